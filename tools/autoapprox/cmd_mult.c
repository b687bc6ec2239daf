/* cmd_mult.c - `autoapprox mult list|info|gen|import`: multipliers as tables. */
#include "cli.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char mult_usage[] =
    "usage: autoapprox mult list [--json]\n"
    "       autoapprox mult info SPEC [--json]\n"
    "       autoapprox mult gen SPEC -o OUT.axm\n"
    "       autoapprox mult import FILE [options] -o OUT.axm\n"
    "\n"
    "SPEC: a built-in family spec (exact-s8, trunc-s8:k=6, drum-u8:k=4, bam-u8s8:hbl=2,vbl=6),\n"
    "an .axm file, any importable table file, or a named multiplier from 'mult list'.\n"
    "\n"
    "import options:\n"
    "  --format F        raw-i32|raw-i16|raw-u16|npy|c-header|csv|text|c-model|axm (default: detect)\n"
    "  --endian E        little|big byte order of raw and npy data (default little)\n"
    "  --index I         byte: signed operands indexed by their raw byte (default);\n"
    "                    offset: indexed by value+128, as EvoApproxLib tabulations are\n"
    "  --order O         aw: the file's first operand is the activation (default); wa: the weight\n"
    "  --signed | --unsigned | --u8s8\n"
    "                    operand types: s8 x s8, u8 x u8, or u8 activation x s8 weight\n"
    "  --value-offset N  the file stores product + N (e.g. 32768)\n"
    "  --function NAME   c-model: the multiplier function, when the file defines several\n"
    "  --name NAME       the multiplier's name (default: file name without extension)\n"
    "  --power MW --area UM2 --delay NS --node NODE\n"
    "                    hardware figures (override what the file states)\n"
    "  --strict          plausibility warnings are errors (exit 1, nothing written)\n";

static void print_json_figures(json_object *o, const ax_mult *m)
{
    if (!isnan(m->hw.power_mw)) json_object_object_add(o, "power_mw", json_object_new_double(m->hw.power_mw));
    if (!isnan(m->hw.area_um2)) json_object_object_add(o, "area_um2", json_object_new_double(m->hw.area_um2));
    if (!isnan(m->hw.delay_ns)) json_object_object_add(o, "delay_ns", json_object_new_double(m->hw.delay_ns));
    if (m->hw.node[0]) json_object_object_add(o, "node", json_object_new_string(m->hw.node));
}

static json_object *info_json(const ax_mult *m, const ax_metrics *x)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(m->name));
    json_object_object_add(o, "activation", json_object_new_string(ax_operand_name(m->act)));
    json_object_object_add(o, "weight", json_object_new_string(ax_operand_name(m->wgt)));
    json_object_object_add(o, "exact", json_object_new_boolean(ax_mult_is_exact(m)));
    json_object_object_add(o, "mae", json_object_new_double(x->mae));
    json_object_object_add(o, "wce", json_object_new_double(x->wce));
    json_object_object_add(o, "mre", json_object_new_double(x->mre));
    json_object_object_add(o, "ep", json_object_new_double(x->ep));
    json_object_object_add(o, "mse", json_object_new_double(x->mse));
    json_object_object_add(o, "bias", json_object_new_double(x->bias));
    json_object_object_add(o, "variance", json_object_new_double(x->variance));
    json_object_object_add(o, "mae_pct", json_object_new_double(x->mae_pct));
    json_object_object_add(o, "wce_pct", json_object_new_double(x->wce_pct));
    print_json_figures(o, m);
    json_object *prov = cli_provenance("mult info");
    cli_provenance_add_mult(prov, m);
    json_object_object_add(o, "provenance", prov);
    return o;
}

static void print_figure(const char *label, double v, const char *unit)
{
    if (!isnan(v)) printf("  %-10s %g %s\n", label, v, unit);
}

static void info_text(const ax_mult *m, const ax_metrics *x)
{
    char sha[65];
    ax_mult_table_sha256(m, sha);
    printf("%s  (%s activation x %s weight%s)\n", m->name, ax_operand_name(m->act), ax_operand_name(m->wgt),
           ax_mult_is_exact(m) ? ", exact" : "");
    printf("  source     %s\n  sha256     %s\n", m->provenance[0] ? m->provenance : "-", sha);
    printf("  MAE        %.6g  (%.4g %% of 2^16)\n", x->mae, x->mae_pct);
    printf("  WCE        %.0f  (%.4g %% of 2^16, signed %lld)\n", x->wce, x->wce_pct, (long long)x->wce_signed);
    printf("  EP         %.4f %%\n  MRE        %.4f %%\n", x->ep, x->mre);
    printf("  MSE        %.6g\n  bias       %.6g\n  variance   %.6g\n", x->mse, x->bias, x->variance);
    print_figure("power", m->hw.power_mw, "mW");
    print_figure("area", m->hw.area_um2, "um^2");
    print_figure("delay", m->hw.delay_ns, "ns");
    if (m->hw.node[0]) printf("  %-10s %s\n", "node", m->hw.node);
}

static int mult_info(int argc, char **argv)
{
    bool json = false;
    const char *spec = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = true;
        else if (!strcmp(argv[i], "--help")) { fputs(mult_usage, stdout); return AX_EXIT_OK; }
        else if (argv[i][0] == '-' && argv[i][1]) return cli_fail(AX_EXIT_USAGE, "mult info: unknown option '%s'", argv[i]);
        else if (spec) return cli_fail(AX_EXIT_USAGE, "mult info: one SPEC expected, got '%s' and '%s'", spec, argv[i]);
        else spec = argv[i];
    }
    if (!spec) return cli_fail(AX_EXIT_USAGE, "mult info: SPEC missing (autoapprox mult --help)");
    ax_mult *m;
    ax_error err;
    if (ax_mult_resolve(spec, &m, &err) != 0) return cli_fail(AX_EXIT_FAIL, "%s", err.msg);
    ax_metrics x;
    ax_mult_metrics(m, &x);
    int rc = AX_EXIT_OK;
    if (json) {
        json_object *o = info_json(m, &x);
        if (cli_write_json("-", o) != 0) rc = AX_EXIT_FAIL;
        json_object_put(o);
    } else {
        info_text(m, &x);
    }
    ax_mult_free(m);
    return rc;
}

typedef struct list_ctx {
    json_object *arr;
    int count;
} list_ctx;

static void list_named(const char *name, const char *path, void *p)
{
    list_ctx *c = p;
    c->count++;
    if (c->arr) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(name));
        json_object_object_add(o, "path", json_object_new_string(path));
        json_object_array_add(c->arr, o);
    } else {
        printf("  %-20s %s\n", name, path);
    }
}

static json_object *family_json(const ax_family_info *f)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "family", json_object_new_string(f->name));
    json_object_object_add(o, "summary", json_object_new_string(f->summary));
    json_object *ps = json_object_new_array();
    for (size_t j = 0; j < f->n_params; j++) {
        const ax_family_param *p = &f->params[j];
        json_object *po = json_object_new_object();
        json_object_object_add(po, "key", json_object_new_string(p->key));
        json_object_object_add(po, "min", json_object_new_int(p->min));
        json_object_object_add(po, "max", json_object_new_int(p->max));
        json_object_object_add(po, "default", json_object_new_int(p->def));
        json_object_object_add(po, "meaning", json_object_new_string(p->meaning));
        json_object_array_add(ps, po);
    }
    json_object_object_add(o, "params", ps);
    return o;
}

static int mult_list(int argc, char **argv)
{
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = true;
        else if (!strcmp(argv[i], "--help")) { fputs(mult_usage, stdout); return AX_EXIT_OK; }
        else return cli_fail(AX_EXIT_USAGE, "mult list: unexpected argument '%s'", argv[i]);
    }
    if (json) {
        json_object *o = json_object_new_object(), *fams = json_object_new_array();
        for (size_t i = 0; i < ax_family_count(); i++) json_object_array_add(fams, family_json(ax_family_at(i)));
        json_object_object_add(o, "families", fams);
        list_ctx c = {json_object_new_array(), 0};
        ax_mult_list_named(list_named, &c);
        json_object_object_add(o, "named", c.arr);
        int rc = cli_write_json("-", o) == 0 ? AX_EXIT_OK : AX_EXIT_FAIL;
        json_object_put(o);
        return rc;
    }
    printf("Built-in families (spec: FAMILY-s8|u8|u8s8[:key=value,...]):\n");
    for (size_t i = 0; i < ax_family_count(); i++) {
        const ax_family_info *f = ax_family_at(i);
        printf("  %-11s %s\n", f->name, f->summary);
        for (size_t j = 0; j < f->n_params; j++) {
            const ax_family_param *p = &f->params[j];
            printf("  %11s   %s=%d..%d (default %d): %s\n", "", p->key, p->min, p->max, p->def, p->meaning);
        }
    }
    list_ctx c = {NULL, 0};
    printf("\nNamed multipliers ($AX_MULT_PATH folders of .axm, EvoApproxLib reference folder):\n");
    ax_mult_list_named(list_named, &c);
    if (c.count == 0) printf("  (none found)\n");
    return AX_EXIT_OK;
}

static int mult_gen(int argc, char **argv)
{
    const char *spec = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) {
            if (++i >= argc) return cli_fail(AX_EXIT_USAGE, "mult gen: -o needs a file name");
            out = argv[i];
        } else if (!strcmp(argv[i], "--help")) {
            fputs(mult_usage, stdout);
            return AX_EXIT_OK;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_fail(AX_EXIT_USAGE, "mult gen: unknown option '%s'", argv[i]);
        } else if (spec) {
            return cli_fail(AX_EXIT_USAGE, "mult gen: one SPEC expected, got '%s' and '%s'", spec, argv[i]);
        } else {
            spec = argv[i];
        }
    }
    if (!spec || !out) return cli_fail(AX_EXIT_USAGE, "mult gen: SPEC and -o OUT.axm are required");
    ax_mult *m;
    ax_error err;
    if (ax_mult_from_family_spec(spec, &m, &err) != 0) return cli_fail(AX_EXIT_FAIL, "%s", err.msg);
    int rc = ax_mult_save(m, out, &err) == 0 ? AX_EXIT_OK : cli_fail(AX_EXIT_FAIL, "%s", err.msg);
    if (rc == AX_EXIT_OK) printf("wrote %s (%s)\n", out, m->name);
    ax_mult_free(m);
    return rc;
}

static void print_plausibility(const ax_mult *m, const ax_plausibility *p)
{
    static const char *const quadrant[4] = {"a>=0 w>=0", "a>=0 w<0 ", "a<0  w>=0", "a<0  w<0 "};
    printf("plausibility of %s against the exact %s x %s product:\n", m->name, ax_operand_name(m->act),
           ax_operand_name(m->wgt));
    printf("  overall MAE %.6g\n", p->overall_mae);
    for (int q = 0; q < 4; q++)
        if (!isnan(p->quadrant_mae[q])) printf("  %s MAE %.6g\n", quadrant[q], p->quadrant_mae[q]);
}

enum { OPT_FORMAT = 256, OPT_ENDIAN, OPT_INDEX, OPT_ORDER, OPT_SIGNED, OPT_UNSIGNED, OPT_U8S8,
       OPT_VOFF, OPT_FUNCTION, OPT_NAME, OPT_POWER, OPT_AREA, OPT_DELAY, OPT_NODE, OPT_STRICT, OPT_HELP };

static const struct option import_opts[] = {
    {"format", required_argument, 0, OPT_FORMAT}, {"endian", required_argument, 0, OPT_ENDIAN},
    {"index", required_argument, 0, OPT_INDEX},   {"order", required_argument, 0, OPT_ORDER},
    {"signed", no_argument, 0, OPT_SIGNED},       {"unsigned", no_argument, 0, OPT_UNSIGNED},
    {"u8s8", no_argument, 0, OPT_U8S8},           {"value-offset", required_argument, 0, OPT_VOFF},
    {"function", required_argument, 0, OPT_FUNCTION}, {"name", required_argument, 0, OPT_NAME},
    {"power", required_argument, 0, OPT_POWER},   {"area", required_argument, 0, OPT_AREA},
    {"delay", required_argument, 0, OPT_DELAY},   {"node", required_argument, 0, OPT_NODE},
    {"strict", no_argument, 0, OPT_STRICT},       {"output", required_argument, 0, 'o'},
    {"help", no_argument, 0, OPT_HELP},           {0, 0, 0, 0}};

/* Parses one import option into o; returns false after printing a usage error. */
static bool import_option(int c, const char *arg, ax_import_options *o, bool *strict, const char **out)
{
    switch (c) {
    case OPT_FORMAT:
        if (ax_import_format_parse(arg, &o->format) == 0) return true;
        cli_fail(AX_EXIT_USAGE, "--format: unknown format '%s' (raw-i32, raw-i16, raw-u16, npy, c-header, csv, text, c-model, axm)", arg);
        return false;
    case OPT_ENDIAN:
        if (!strcmp(arg, "little") || !strcmp(arg, "big")) { o->big_endian = !strcmp(arg, "big"); return true; }
        cli_fail(AX_EXIT_USAGE, "--endian: '%s' is neither little nor big", arg);
        return false;
    case OPT_INDEX:
        if (!strcmp(arg, "byte") || !strcmp(arg, "offset")) { o->index_offset = !strcmp(arg, "offset"); return true; }
        cli_fail(AX_EXIT_USAGE, "--index: '%s' is neither byte nor offset", arg);
        return false;
    case OPT_ORDER:
        if (!strcmp(arg, "aw") || !strcmp(arg, "wa")) { o->order_wa = !strcmp(arg, "wa"); return true; }
        cli_fail(AX_EXIT_USAGE, "--order: '%s' is neither aw nor wa", arg);
        return false;
    case OPT_SIGNED: o->sign = AX_SIGN_SIGNED; o->mixed_u8s8 = false; return true;
    case OPT_UNSIGNED: o->sign = AX_SIGN_UNSIGNED; o->mixed_u8s8 = false; return true;
    case OPT_U8S8: o->mixed_u8s8 = true; o->sign = AX_SIGN_AUTO; return true;
    case OPT_VOFF: return cli_parse_i64("--value-offset", arg, &o->value_offset);
    case OPT_FUNCTION: o->function = arg; return true;
    case OPT_NAME:
        if (*arg && strlen(arg) < AX_NAME_MAX && !strchr(arg, '/')) { o->name = arg; return true; }
        cli_fail(AX_EXIT_USAGE, "--name: '%s' must be 1..%d characters without '/'", arg, AX_NAME_MAX - 1);
        return false;
    case OPT_POWER: return cli_parse_double("--power", arg, &o->hw.power_mw);
    case OPT_AREA: return cli_parse_double("--area", arg, &o->hw.area_um2);
    case OPT_DELAY: return cli_parse_double("--delay", arg, &o->hw.delay_ns);
    case OPT_NODE: snprintf(o->hw.node, sizeof o->hw.node, "%s", arg); return true;
    case OPT_STRICT: *strict = true; return true;
    case 'o': *out = arg; return true;
    default: return false;
    }
}

static int mult_import(int argc, char **argv)
{
    ax_import_options o;
    ax_import_options_init(&o);
    bool strict = false;
    const char *out = NULL;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "o:", import_opts, NULL)) != -1) {
        if (c == OPT_HELP) { fputs(mult_usage, stdout); return AX_EXIT_OK; }
        if (c == '?' || c == ':')
            return cli_fail(AX_EXIT_USAGE, "mult import: unknown option or missing value: '%s'", argv[optind - 1]);
        if (!import_option(c, optarg, &o, &strict, &out)) return AX_EXIT_USAGE;
    }
    if (optind != argc - 1 || !out)
        return cli_fail(AX_EXIT_USAGE, "mult import: one FILE and -o OUT.axm are required");
    const char *path = argv[optind];
    ax_mult *m;
    ax_error err;
    char warnings[8][AX_ERROR_MAX];
    int n_warn = 0;
    if (ax_mult_import_ex(path, &o, &m, warnings, 8, &n_warn, &err) != 0) return cli_fail(AX_EXIT_FAIL, "%s", err.msg);
    ax_plausibility p;
    ax_mult_plausibility(m, &p);
    print_plausibility(m, &p);
    for (int i = 0; i < n_warn; i++) cli_warn("%s: %s", path, warnings[i]);
    for (int i = 0; i < p.n_warnings; i++) cli_warn("%s: %s", path, p.warnings[i]);
    int rc = AX_EXIT_OK;
    if (strict && n_warn + p.n_warnings > 0)
        rc = cli_fail(AX_EXIT_FAIL, "%s: %d warning(s) and --strict: %s not written", path, n_warn + p.n_warnings, out);
    else if (ax_mult_save(m, out, &err) != 0)
        rc = cli_fail(AX_EXIT_FAIL, "%s", err.msg);
    else
        printf("wrote %s (%s, %s x %s)\n", out, m->name, ax_operand_name(m->act), ax_operand_name(m->wgt));
    ax_mult_free(m);
    return rc;
}

int cmd_mult(int argc, char **argv)
{
    if (argc < 2) {
        fputs(mult_usage, stderr);
        return AX_EXIT_USAGE;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h")) { fputs(mult_usage, stdout); return AX_EXIT_OK; }
    if (!strcmp(sub, "list")) return mult_list(argc - 1, argv + 1);
    if (!strcmp(sub, "info")) return mult_info(argc - 1, argv + 1);
    if (!strcmp(sub, "gen")) return mult_gen(argc - 1, argv + 1);
    if (!strcmp(sub, "import")) return mult_import(argc - 1, argv + 1);
    return cli_fail(AX_EXIT_USAGE, "mult: unknown subcommand '%s' (list, info, gen, import)", sub);
}
