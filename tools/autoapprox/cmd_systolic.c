/* cmd_systolic.c - `autoapprox systolic`: every layer of a network mapped
 * onto one weight-stationary systolic array (SCALE-Sim v2's analytical
 * model): folds, cycles, utilization and SRAM traffic per layer and in
 * total, as a table, JSON, and SCALE-Sim's COMPUTE_REPORT.csv. */
#include "cli.h"

#include "autoapprox/ppa.h"
#include "lut/ax_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char systolic_usage[] =
    "usage: autoapprox systolic (--topology T.csv | --model M) [--array RxC] [--batch B]\n"
    "                           [--config F.cfg] [--report-dir DIR] [--json OUT]\n"
    "\n"
    "Maps every conv/FC layer onto one weight-stationary R x C systolic array with\n"
    "SCALE-Sim v2's analytical model (docs/ppa.md) and prints folds, cycles,\n"
    "utilization and SRAM reads/writes per layer.\n"
    "\n"
    "  --topology T.csv  SCALE-Sim topology (conv columns or Layer, M, N, K)\n"
    "  --model M         an ONNX model (float or QDQ): its conv/FC layers\n"
    "  --array RxC       array rows x columns (default 128x128, or the config's)\n"
    "  --batch B         images per inference (default 1)\n"
    "  --config F.cfg    SCALE-Sim config: ArrayHeight, ArrayWidth, Dataflow (ws only)\n"
    "  --report-dir DIR  write DIR/COMPUTE_REPORT.csv in SCALE-Sim's format\n"
    "  --json OUT        write the result as JSON to OUT ('-' = stdout)\n";

typedef struct systolic_opts {
    const char *topology, *model, *array, *config, *report_dir, *json;
    uint32_t batch;
} systolic_opts;

/* "128x128" -> rows, cols */
static bool parse_array(const char *s, uint32_t *rows, uint32_t *cols)
{
    unsigned long r, c;
    char x, tail;
    if (sscanf(s, "%lu%c%lu%c", &r, &x, &c, &tail) != 3 || (x != 'x' && x != 'X')) return false;
    if (r == 0 || c == 0 || r > 65536 || c > 65536) return false;
    *rows = (uint32_t)r;
    *cols = (uint32_t)c;
    return true;
}

static int parse_opts(int argc, char **argv, systolic_opts *o)
{
    memset(o, 0, sizeof *o);
    int64_t batch = 1;
    const cli_opt opts[] = {
        {"--topology", &o->topology, NULL, 0, 0, NULL},
        {"--model", &o->model, NULL, 0, 0, NULL},
        {"--array", &o->array, NULL, 0, 0, NULL},
        {"--config", &o->config, NULL, 0, 0, NULL},
        {"--report-dir", &o->report_dir, NULL, 0, 0, NULL},
        {"--json", &o->json, NULL, 0, 0, NULL},
        {"--batch", NULL, &batch, 1, 1000000, NULL},
    };
    int rc = cli_parse_options("systolic", argc, argv, opts, sizeof opts / sizeof *opts, NULL, 0, NULL);
    if (rc == 1) return -1;
    if (rc != 0) return rc;
    o->batch = (uint32_t)batch;
    if (!o->topology == !o->model)
        return cli_fail(AX_EXIT_USAGE, "systolic: give exactly one of --topology T.csv or --model M");
    return 0;
}

/* Array geometry from --config then --array; only ws is modelled. */
static int array_geometry(const systolic_opts *o, uint32_t *rows, uint32_t *cols)
{
    *rows = *cols = 128;
    if (o->config) {
        ax_scalesim_config c;
        ax_error err;
        if (ax_scalesim_config_load(o->config, &c, &err) != 0) return cli_fail(AX_EXIT_FAIL, "%s", err.msg);
        if (c.dataflow != AX_DATAFLOW_WS)
            return cli_fail(AX_EXIT_FAIL, "%s:%d: Dataflow is %s: only weight-stationary (ws) is modelled", o->config,
                            c.dataflow_line, ax_dataflow_name(c.dataflow));
        *rows = c.rows;
        *cols = c.cols;
    }
    if (o->array && !parse_array(o->array, rows, cols))
        return cli_fail(AX_EXIT_USAGE, "--array: '%s' is not RxC with 1..65536 each (e.g. 128x128)", o->array);
    return 0;
}

static json_object *layer_json(const ax_layer *l, const ax_mapping *m)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(l->name));
    json_object_object_add(o, "M", json_object_new_int64((int64_t)m->M));
    json_object_object_add(o, "N", json_object_new_int64((int64_t)m->N));
    json_object_object_add(o, "K", json_object_new_int64((int64_t)m->K));
    json_object_object_add(o, "groups", json_object_new_int64((int64_t)m->groups));
    json_object_object_add(o, "folds", json_object_new_int64((int64_t)m->folds));
    json_object_object_add(o, "cycles", json_object_new_int64((int64_t)m->cycles));
    json_object_object_add(o, "macs", json_object_new_int64((int64_t)m->macs));
    json_object_object_add(o, "utilization", json_object_new_double(m->utilization));
    json_object_object_add(o, "mapping_efficiency", json_object_new_double(m->mapping_efficiency));
    json_object_object_add(o, "compute_utilization", json_object_new_double(m->compute_utilization));
    json_object_object_add(o, "ifmap_reads", json_object_new_int64((int64_t)m->ifmap_reads));
    json_object_object_add(o, "filter_reads", json_object_new_int64((int64_t)m->filter_reads));
    json_object_object_add(o, "ofmap_writes", json_object_new_int64((int64_t)m->ofmap_writes));
    return o;
}

static void add_file_sha(json_object *prov, const char *key, const char *path)
{
    uint8_t *buf;
    size_t len;
    ax_error err;
    if (ax_read_file(path, 256u << 20, &buf, &len, &err) != 0) return;
    char hex[65];
    ax_sha256_hex(buf, len, hex);
    free(buf);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "path", json_object_new_string(path));
    json_object_object_add(o, "sha256", json_object_new_string(hex));
    json_object_object_add(prov, key, o);
}

static json_object *result_json(const systolic_opts *o, const ax_topology *t, const ax_mapping *maps, uint32_t rows,
                                uint32_t cols, uint64_t cycles, uint64_t macs)
{
    json_object *root = json_object_new_object(), *arr = json_object_new_object(), *ls = json_object_new_array();
    json_object_object_add(arr, "rows", json_object_new_int64(rows));
    json_object_object_add(arr, "cols", json_object_new_int64(cols));
    json_object_object_add(arr, "dataflow", json_object_new_string("ws"));
    json_object_object_add(root, "array", arr);
    json_object_object_add(root, "network", json_object_new_string(t->name));
    json_object_object_add(root, "batch", json_object_new_int64(o->batch));
    for (size_t i = 0; i < t->n_layers; i++) json_object_array_add(ls, layer_json(&t->layers[i], &maps[i]));
    json_object_object_add(root, "layers", ls);
    json_object_object_add(root, "total_cycles", json_object_new_int64((int64_t)cycles));
    json_object_object_add(root, "total_macs", json_object_new_int64((int64_t)macs));
    json_object_object_add(root, "utilization", json_object_new_double((double)macs / ((double)cycles * rows * cols)));
    json_object *prov = cli_provenance("systolic");
    if (o->topology) add_file_sha(prov, "topology", o->topology);
    if (o->model) add_file_sha(prov, "model", o->model);
    if (o->config) add_file_sha(prov, "config", o->config);
    json_object_object_add(prov, "model",
                           json_object_new_string("SCALE-Sim v2 analytical, weight-stationary, no stalls"));
    json_object_object_add(root, "provenance", prov);
    return root;
}

static void print_table(const ax_topology *t, const ax_mapping *maps, uint32_t rows, uint32_t cols, uint32_t batch,
                        uint64_t cycles, uint64_t macs)
{
    printf("%s on a %ux%u weight-stationary array, batch %u (SCALE-Sim v2 analytical model)\n\n", t->name, rows, cols,
           batch);
    printf("%-28s %9s %6s %6s %5s %7s %12s %6s %13s %11s %13s\n", "layer", "M", "N", "K", "grp", "folds", "cycles",
           "util%", "ifmap_reads", "filt_reads", "ofmap_writes");
    for (size_t i = 0; i < t->n_layers; i++) {
        const ax_mapping *m = &maps[i];
        printf("%-28.28s %9llu %6llu %6llu %5llu %7llu %12llu %6.2f %13llu %11llu %13llu\n", t->layers[i].name,
               (unsigned long long)m->M, (unsigned long long)m->N, (unsigned long long)m->K,
               (unsigned long long)m->groups, (unsigned long long)m->folds, (unsigned long long)m->cycles,
               100 * m->utilization, (unsigned long long)m->ifmap_reads, (unsigned long long)m->filter_reads,
               (unsigned long long)m->ofmap_writes);
    }
    printf("\ntotal: %zu layers, %llu cycles, %.4g GMAC, utilization %.2f %%\n", t->n_layers,
           (unsigned long long)cycles, (double)macs / 1e9, 100.0 * (double)macs / ((double)cycles * rows * cols));
}

static int write_report_dir(const char *dir, const ax_mapping *maps, size_t n)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return cli_fail(AX_EXIT_FAIL, "%s: cannot create folder: %s", dir, strerror(errno));
    char *path = malloc(strlen(dir) + 32);
    if (!path) return cli_fail(AX_EXIT_FAIL, "out of memory");
    sprintf(path, "%s/COMPUTE_REPORT.csv", dir);
    ax_error err;
    int rc = ax_write_compute_report(path, maps, n, &err) == 0 ? AX_EXIT_OK : cli_fail(AX_EXIT_FAIL, "%s", err.msg);
    free(path);
    return rc;
}

static int run(const systolic_opts *o, const ax_topology *t, uint32_t rows, uint32_t cols)
{
    ax_mapping *maps = calloc(t->n_layers, sizeof *maps);
    if (!maps) return cli_fail(AX_EXIT_FAIL, "out of memory");
    uint64_t cycles = 0, macs = 0;
    int rc = AX_EXIT_OK;
    for (size_t i = 0; i < t->n_layers && rc == AX_EXIT_OK; i++) {
        ax_error err;
        if (ax_map_ws(&t->layers[i], rows, cols, o->batch, &maps[i], &err) != 0)
            rc = cli_fail(AX_EXIT_FAIL, "%s:%d: %s", o->topology ? o->topology : o->model, t->layers[i].line, err.msg);
        cycles += maps[i].cycles;
        macs += maps[i].macs;
    }
    if (rc == AX_EXIT_OK && o->report_dir) rc = write_report_dir(o->report_dir, maps, t->n_layers);
    if (rc == AX_EXIT_OK && (!o->json || strcmp(o->json, "-") != 0))
        print_table(t, maps, rows, cols, o->batch, cycles, macs);
    if (rc == AX_EXIT_OK && o->json) {
        json_object *j = result_json(o, t, maps, rows, cols, cycles, macs);
        if (cli_write_json(o->json, j) != 0) rc = AX_EXIT_FAIL;
        json_object_put(j);
    }
    free(maps);
    return rc;
}

int cmd_systolic(int argc, char **argv)
{
    systolic_opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc < 0) {
        fputs(systolic_usage, stdout);
        return AX_EXIT_OK;
    }
    if (rc != 0) return rc;
    uint32_t rows, cols;
    if ((rc = array_geometry(&o, &rows, &cols)) != 0) return rc;
    ax_topology *t;
    ax_error err;
    if (o.model) {
        if (cli_topology_of_model(o.model, &t) != 0) return AX_EXIT_FAIL;
    } else if (ax_topology_load(o.topology, &t, &err) != 0) {
        return cli_fail(AX_EXIT_FAIL, "%s", err.msg);
    }
    rc = run(&o, t, rows, cols);
    ax_topology_free(t);
    return rc;
}
