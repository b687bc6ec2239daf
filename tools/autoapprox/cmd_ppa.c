/* cmd_ppa.c - `autoapprox ppa`: prices a whole chip running a network with
 * the assigned multipliers, next to the same chip and mapping with every
 * multiplier exact, so the saving of an assignment is one number per axis. */
#include "cli.h"

#include "autoapprox/nn.h"
#include "autoapprox/ppa.h"
#include "lut/ax_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char ppa_usage[] =
    "usage: autoapprox ppa (--topology T.csv | --model M) [--assign A.json] [--chip C.json]\n"
    "                      [--config F.cfg] [--batch B] [--json OUT]\n"
    "\n"
    "Power, performance and area of a TPU-like chip of weight-stationary systolic\n"
    "arrays running the network, each layer on the array the assignment names, and\n"
    "the same against a chip whose multipliers are all exact (docs/ppa.md).\n"
    "\n"
    "  --topology T.csv  SCALE-Sim topology; layer names are the assignment's keys\n"
    "  --model M         an ONNX model (float or QDQ): its conv/FC layers, named as\n"
    "                    the assignment names them\n"
    "  --assign A.json   arrays and their multipliers, and the array of every layer\n"
    "                    (without it: every layer on the first array, all exact)\n"
    "  --chip C.json     chip description (default: TPUv3-like, 2 cores x 2 arrays of\n"
    "                    128x128 at 940 MHz; its arrays come from the assignment)\n"
    "  --config F.cfg    SCALE-Sim config: every array takes its ArrayHeight x ArrayWidth\n"
    "                    (Dataflow must be ws)\n"
    "  --batch B         images per inference (default 1)\n"
    "  --json OUT        write the report as JSON to OUT ('-' = stdout)\n";

typedef struct ppa_opts {
    const char *topology, *model, *assign, *chip, *config, *json;
    uint32_t batch;
} ppa_opts;

static int parse_opts(int argc, char **argv, ppa_opts *o)
{
    memset(o, 0, sizeof *o);
    int64_t batch = 1;
    const cli_opt opts[] = {
        {"--topology", &o->topology, NULL, 0, 0, NULL},
        {"--model", &o->model, NULL, 0, 0, NULL},
        {"--assign", &o->assign, NULL, 0, 0, NULL},
        {"--chip", &o->chip, NULL, 0, 0, NULL},
        {"--config", &o->config, NULL, 0, 0, NULL},
        {"--json", &o->json, NULL, 0, 0, NULL},
        {"--batch", NULL, &batch, 1, 1000000, NULL},
    };
    int rc = cli_parse_options("ppa", argc, argv, opts, sizeof opts / sizeof *opts, NULL, 0, NULL);
    if (rc == 1) return -1;
    if (rc != 0) return rc;
    o->batch = (uint32_t)batch;
    if (!o->topology == !o->model)
        return cli_fail(AX_EXIT_USAGE, "ppa: give exactly one of --topology T.csv or --model M");
    return 0;
}

/* Resolves spec as a file next to `beside` (a path); 1 when no such file. */
static int resolve_beside(const char *beside, const char *spec, ax_mult **out, ax_error *err)
{
    const char *slash = beside ? strrchr(beside, '/') : NULL;
    if (!slash || spec[0] == '/') return 1;
    size_t dir = (size_t)(slash - beside);
    char *p = malloc(dir + strlen(spec) + 2);
    if (!p) return ax_fail(err, "out of memory");
    sprintf(p, "%.*s/%s", (int)dir, beside, spec);
    int rc = access(p, R_OK) == 0 ? ax_mult_resolve(p, out, err) : 1;
    free(p);
    return rc;
}

/* SPECs in an assignment or chip file may be files next to it: try there first. */
static int resolve_spec(const char *spec, ax_mult **out, ax_error *err, void *ctx)
{
    const ppa_opts *o = ctx;
    int rc = resolve_beside(o->assign, spec, out, err);
    if (rc == 1) rc = resolve_beside(o->chip, spec, out, err);
    return rc == 1 ? ax_mult_resolve(spec, out, err) : rc;
}

static json_object *figures_json(const ax_ppa_figures *f, bool chip)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "area_mm2", json_object_new_double(f->area_mm2));
    json_object_object_add(o, "power_w", json_object_new_double(f->power_w));
    json_object_object_add(o, "energy_mj", json_object_new_double(f->energy_mj));
    json_object_object_add(o, chip ? "latency_ms" : "busy_ms", json_object_new_double(f->latency_ms));
    if (chip) json_object_object_add(o, "throughput_ips", json_object_new_double(f->throughput_ips));
    json_object_object_add(o, "utilization", json_object_new_double(f->utilization));
    return o;
}

static json_object *array_json(const ax_ppa_array *a, const ax_ppa_array *x)
{
    json_object *o = figures_json(&a->fig, false);
    json_object_object_add(o, "id", json_object_new_string(a->id));
    json_object_object_add(o, "core", json_object_new_int64(a->core));
    json_object_object_add(o, "rows", json_object_new_int64(a->rows));
    json_object_object_add(o, "cols", json_object_new_int64(a->cols));
    json_object_object_add(o, "mult", json_object_new_string(a->mult));
    json_object_object_add(o, "mult_figures", json_object_new_string(a->pe.source));
    json_object_object_add(o, "mult_rel_power", json_object_new_double(a->pe.mult_rel_power));
    json_object_object_add(o, "mult_rel_area", json_object_new_double(a->pe.mult_rel_area));
    json_object_object_add(o, "pe_area_um2_45nm", json_object_new_double(a->pe.area_um2));
    json_object_object_add(o, "pe_energy_pj_45nm", json_object_new_double(a->pe.energy_pj));
    json_object_object_add(o, "layers", json_object_new_int64((int64_t)a->n_layers));
    json_object_object_add(o, "macs", json_object_new_int64((int64_t)a->macs));
    json_object_object_add(o, "cycles", json_object_new_int64((int64_t)a->cycles));
    json_object *e = json_object_new_object();
    json_object_object_add(e, "area_mm2", json_object_new_double(x->fig.area_mm2));
    json_object_object_add(e, "power_w", json_object_new_double(x->fig.power_w));
    json_object_object_add(e, "energy_mj", json_object_new_double(x->fig.energy_mj));
    json_object_object_add(o, "exact", e);
    return o;
}

static json_object *breakdown_json(const ax_ppa_breakdown *p)
{
    json_object *o = json_object_new_object(), *e = json_object_new_object(), *a = json_object_new_object();
    json_object_object_add(e, "mac", json_object_new_double(p->mac));
    json_object_object_add(e, "sram", json_object_new_double(p->sram));
    json_object_object_add(e, "vector", json_object_new_double(p->vector));
    json_object_object_add(e, "interconnect", json_object_new_double(p->interconnect));
    json_object_object_add(e, "hbm", json_object_new_double(p->hbm));
    json_object_object_add(e, "leakage", json_object_new_double(p->leakage));
    json_object_object_add(a, "arrays", json_object_new_double(p->area_arrays));
    json_object_object_add(a, "unified_buffer", json_object_new_double(p->area_ub));
    json_object_object_add(a, "accumulators", json_object_new_double(p->area_acc));
    json_object_object_add(a, "vector", json_object_new_double(p->area_vector));
    json_object_object_add(a, "uncore", json_object_new_double(p->area_uncore));
    json_object_object_add(a, "other", json_object_new_double(p->area_other));
    json_object_object_add(o, "energy_mj_per_batch", e);
    json_object_object_add(o, "area_mm2", a);
    return o;
}

static json_object *layers_json(const ax_topology *t, const ax_binding *b, const ax_ppa_report *r)
{
    json_object *ls = json_object_new_array();
    for (size_t i = 0; i < r->n_layers; i++) {
        const ax_ppa_layer *l = &r->layers[i];
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(t->layers[i].name));
        json_object_object_add(o, "array", json_object_new_string(b->chip.arrays[l->array].id));
        json_object_object_add(o, "cycles", json_object_new_int64((int64_t)l->map.cycles));
        json_object_object_add(o, "macs", json_object_new_int64((int64_t)l->map.macs));
        json_object_object_add(o, "hbm_bytes", json_object_new_int64((int64_t)l->hbm_bytes));
        json_object_object_add(o, "memory_bound", json_object_new_boolean(l->memory_bound));
        json_object_object_add(o, "time_ms", json_object_new_double(l->time_ms));
        json_object_object_add(o, "energy_mj", json_object_new_double(l->energy_mj));
        json_object_array_add(ls, o);
    }
    return ls;
}

static void add_file_sha(json_object *prov, const char *key, const char *path)
{
    uint8_t *buf;
    size_t len;
    ax_error err;
    if (!path || ax_read_file(path, 256u << 20, &buf, &len, &err) != 0) return;
    char hex[65];
    ax_sha256_hex(buf, len, hex);
    free(buf);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "path", json_object_new_string(path));
    json_object_object_add(o, "sha256", json_object_new_string(hex));
    json_object_object_add(prov, key, o);
}

typedef struct ppa_run {
    const ppa_opts *o;
    ax_topology *topo;
    ax_binding bind, exact;
    ax_ppa_report rep, ref;
} ppa_run;

static json_object *result_json(const ppa_run *r)
{
    json_object *root = json_object_new_object(), *d = json_object_new_object(), *arr = json_object_new_array();
    json_object_object_add(root, "chip_name", json_object_new_string(r->bind.chip.name));
    json_object_object_add(root, "network", json_object_new_string(r->topo->name));
    json_object_object_add(root, "batch", json_object_new_int64(r->rep.batch));
    json_object_object_add(root, "peak_macs_per_s", json_object_new_double(r->rep.peak_macs_per_s));
    json_object_object_add(root, "macs", json_object_new_int64((int64_t)r->rep.macs));
    json_object_object_add(root, "chip", figures_json(&r->rep.chip, true));
    json_object_object_add(root, "exact_chip", figures_json(&r->ref.chip, true));
    json_object_object_add(d, "area_pct",
                           json_object_new_double(ax_ppa_delta_pct(r->rep.chip.area_mm2, r->ref.chip.area_mm2)));
    json_object_object_add(d, "power_pct",
                           json_object_new_double(ax_ppa_delta_pct(r->rep.chip.power_w, r->ref.chip.power_w)));
    json_object_object_add(d, "energy_pct",
                           json_object_new_double(ax_ppa_delta_pct(r->rep.chip.energy_mj, r->ref.chip.energy_mj)));
    json_object_object_add(root, "delta", d);
    for (size_t i = 0; i < r->rep.n_arrays; i++)
        json_object_array_add(arr, array_json(&r->rep.arrays[i], &r->ref.arrays[i]));
    json_object_object_add(root, "arrays", arr);
    json_object_object_add(root, "breakdown", breakdown_json(&r->rep.parts));
    json_object_object_add(root, "layers", layers_json(r->topo, &r->bind, &r->rep));
    json_object *prov = cli_provenance("ppa");
    for (size_t i = 0; i < r->bind.chip.n_arrays; i++) cli_provenance_add_mult(prov, r->bind.mult[i]);
    add_file_sha(prov, "topology", r->o->topology);
    add_file_sha(prov, "model", r->o->model);
    add_file_sha(prov, "assignment", r->o->assign);
    add_file_sha(prov, "chip", r->o->chip);
    add_file_sha(prov, "config", r->o->config);
    json_object_object_add(prov, "model", json_object_new_string("docs/ppa.md: SCALE-Sim v2 analytical ws mapping, "
                                                                 "layers in sequence, TPUv1/Horowitz-derived blocks"));
    json_object_object_add(root, "provenance", prov);
    return root;
}

static void print_report(const ppa_run *r)
{
    const ax_chip *c = &r->bind.chip;
    const ax_ppa_report *p = &r->rep, *x = &r->ref;
    printf("chip %s: %g nm, %g MHz, %u core(s), %zu array(s), peak %.4g TMAC/s\n", c->name, c->node_nm, c->freq_mhz,
           c->cores, c->n_arrays, p->peak_macs_per_s / 1e12);
    printf("network %s: %zu layers, %.4g GMAC per batch of %u\n\n", r->topo->name, r->topo->n_layers,
           (double)p->macs / 1e9, p->batch);
    printf("%-6s %4s %9s %-22s %6s %9s %8s %6s %9s %8s %9s %8s %8s\n", "array", "core", "size", "multiplier", "layers",
           "GMAC", "busy ms", "util%", "area mm2", "power W", "energy mJ", "d.area%", "d.power%");
    for (size_t i = 0; i < p->n_arrays; i++) {
        const ax_ppa_array *a = &p->arrays[i];
        char size[24];
        snprintf(size, sizeof size, "%ux%u", a->rows, a->cols);
        const ax_ppa_figures *e = &x->arrays[i].fig;
        printf("%-6s %4u %9s %-22.22s %6zu %9.4f %8.4f %6.2f %9.3f %8.3f %9.4f %8.2f %8.2f\n", a->id, a->core, size,
               a->mult, a->n_layers, (double)a->macs / 1e9, a->busy_ms, 100 * a->fig.utilization, a->fig.area_mm2,
               a->fig.power_w, a->fig.energy_mj, ax_ppa_delta_pct(a->fig.area_mm2, e->area_mm2),
               ax_ppa_delta_pct(a->fig.power_w, e->power_w));
    }
    printf("\n%-18s %10s %9s %10s %11s %12s\n", "", "area mm2", "power W", "energy mJ", "latency ms", "inferences/s");
    printf("%-18s %10.3f %9.3f %10.4f %11.4f %12.1f\n", "chip (assigned)", p->chip.area_mm2, p->chip.power_w,
           p->chip.energy_mj, p->chip.latency_ms, p->chip.throughput_ips);
    printf("%-18s %10.3f %9.3f %10.4f %11.4f %12.1f\n", "chip (all exact)", x->chip.area_mm2, x->chip.power_w,
           x->chip.energy_mj, x->chip.latency_ms, x->chip.throughput_ips);
    printf("%-18s %9.3f%% %8.3f%% %9.3f%%\n", "delta", ax_ppa_delta_pct(p->chip.area_mm2, x->chip.area_mm2),
           ax_ppa_delta_pct(p->chip.power_w, x->chip.power_w), ax_ppa_delta_pct(p->chip.energy_mj, x->chip.energy_mj));
    printf("\nenergy per batch (mJ): MAC %.4f, SRAM %.4f, vector %.4f, wires %.4f, HBM %.4f, leakage %.4f\n",
           p->parts.mac, p->parts.sram, p->parts.vector, p->parts.interconnect, p->parts.hbm, p->parts.leakage);
}

static int load_inputs(const ppa_opts *o, ppa_run *r, ax_chip *chip, ax_assignment **assign)
{
    ax_error err;
    *assign = NULL;
    if (o->topology && ax_topology_load(o->topology, &r->topo, &err) != 0)
        return cli_fail(AX_EXIT_FAIL, "%s", err.msg);
    if (o->model && cli_topology_of_model(o->model, &r->topo) != 0) return AX_EXIT_FAIL;
    if (o->chip && ax_chip_load(o->chip, chip, &err) != 0) return cli_fail(AX_EXIT_FAIL, "%s", err.msg);
    if (o->assign && ax_assignment_load(o->assign, assign, &err) != 0) return cli_fail(AX_EXIT_FAIL, "%s", err.msg);
    if (o->model && *assign && (*assign)->model_sha256[0]) {
        uint8_t *buf;
        size_t len;
        char hex[65];
        if (ax_read_file(o->model, AX_NN_MAX_FILE, &buf, &len, &err) != 0) return cli_fail(AX_EXIT_FAIL, "%s", err.msg);
        ax_sha256_hex(buf, len, hex);
        free(buf);
        if (strcmp(hex, (*assign)->model_sha256))
            cli_warn("%s: model_sha256 differs from the model's (assignment made for another model?)", o->assign);
    }
    return 0;
}

/* --config: every array takes the config's geometry; only ws is modelled. */
static int apply_config(const char *path, ax_chip *chip)
{
    ax_scalesim_config c;
    ax_error err;
    if (ax_scalesim_config_load(path, &c, &err) != 0) return cli_fail(AX_EXIT_FAIL, "%s", err.msg);
    if (c.dataflow != AX_DATAFLOW_WS)
        return cli_fail(AX_EXIT_FAIL, "%s:%d: Dataflow is %s: only weight-stationary (ws) is modelled", path,
                        c.dataflow_line, ax_dataflow_name(c.dataflow));
    for (size_t i = 0; i < chip->n_arrays; i++) {
        chip->arrays[i].rows = c.rows;
        chip->arrays[i].cols = c.cols;
    }
    return 0;
}

static int evaluate(const ppa_opts *o, ppa_run *r)
{
    ax_chip chip;
    ax_assignment *assign = NULL;
    ax_error err;
    int rc = load_inputs(o, r, &chip, &assign);
    if (rc == 0 && ax_bind(o->chip ? &chip : NULL, assign, r->topo, resolve_spec, (void *)o, &r->bind, &err) != 0)
        rc = cli_fail(AX_EXIT_FAIL, "%s", err.msg);
    ax_assignment_free(assign);
    if (rc == 0 && o->config) rc = apply_config(o->config, &r->bind.chip);
    if (rc != 0) return rc;
    if (ax_bind_exact(&r->bind, &r->exact, &err) != 0 ||
        ax_ppa_evaluate(&r->bind, r->topo, o->batch, &r->rep, &err) != 0 ||
        ax_ppa_evaluate(&r->exact, r->topo, o->batch, &r->ref, &err) != 0)
        return cli_fail(AX_EXIT_FAIL, "%s", err.msg);
    return 0;
}

int cmd_ppa(int argc, char **argv)
{
    ppa_opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc < 0) {
        fputs(ppa_usage, stdout);
        return AX_EXIT_OK;
    }
    if (rc != 0) return rc;
    ppa_run r = {.o = &o};
    rc = evaluate(&o, &r);
    if (rc == 0 && (!o.json || strcmp(o.json, "-") != 0)) print_report(&r);
    if (rc == 0 && o.json) {
        json_object *j = result_json(&r);
        if (cli_write_json(o.json, j) != 0) rc = AX_EXIT_FAIL;
        json_object_put(j);
    }
    ax_ppa_report_free(&r.rep);
    ax_ppa_report_free(&r.ref);
    ax_binding_free(&r.bind);
    ax_binding_free(&r.exact);
    ax_topology_free(r.topo);
    return rc;
}
