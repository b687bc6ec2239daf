/* test_ppa.c - the chip model (ppa/) and its commands: mapping counts equal
 * hand-computed SCALE-Sim values, readers accept SCALE-Sim's messy files
 * and reject broken ones with one line naming file and line, cheaper
 * multipliers never cost more, the default chip's peak rate is TPUv3's
 * 61.6 TMAC/s, and `systolic` / `ppa` write what they promise. */
#include "autoapprox/ppa.h"
#include "test_util.h"

#include <criterion/criterion.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers -------------------------------------------------------------------- */

static char *fixture(const char *name)
{
    const char *dir = getenv("AX_TEST_FIXTURES");
    cr_assert_not_null(dir, "AX_TEST_FIXTURES not set");
    char *p = malloc(strlen(dir) + strlen(name) + 8);
    sprintf(p, "%s/ppa/%s", dir, name);
    return p;
}

static char *repo_file(const char *rel)
{
    const char *dir = getenv("AX_TEST_FIXTURES"); /* <repo>/tests/fixtures */
    cr_assert_not_null(dir);
    char *p = malloc(strlen(dir) + strlen(rel) + 16);
    sprintf(p, "%s/../../%s", dir, rel);
    return p;
}

static ax_layer conv(const char *name, uint32_t h, uint32_t w, uint32_t f, uint32_t ch, uint32_t nf, uint32_t s)
{
    ax_layer l = {.ifmap_h = h, .ifmap_w = w, .filter_h = f, .filter_w = f, .channels = ch, .filters = nf,
                  .stride_h = s, .stride_w = s};
    snprintf(l.name, sizeof l.name, "%s", name);
    return l;
}

static ax_mapping map(const ax_layer *l, uint32_t r, uint32_t c, uint32_t batch)
{
    ax_mapping m;
    ax_error e;
    cr_assert_eq(ax_map_ws(l, r, c, batch, &m, &e), 0, "%s", e.msg);
    return m;
}

static void expect_counts(const ax_mapping *m, uint64_t M, uint64_t N, uint64_t K, uint64_t folds, uint64_t cycles,
                          uint64_t ifr, uint64_t flr, uint64_t ofw)
{
    cr_expect_eq(m->M, M, "M %llu", (unsigned long long)m->M);
    cr_expect_eq(m->N, N, "N %llu", (unsigned long long)m->N);
    cr_expect_eq(m->K, K, "K %llu", (unsigned long long)m->K);
    cr_expect_eq(m->folds, folds, "folds %llu", (unsigned long long)m->folds);
    cr_expect_eq(m->cycles, cycles, "cycles %llu", (unsigned long long)m->cycles);
    cr_expect_eq(m->ifmap_reads, ifr, "ifmap reads %llu", (unsigned long long)m->ifmap_reads);
    cr_expect_eq(m->filter_reads, flr, "filter reads %llu", (unsigned long long)m->filter_reads);
    cr_expect_eq(m->ofmap_writes, ofw, "ofmap writes %llu", (unsigned long long)m->ofmap_writes);
}

static bool one_line(const char *s) { return strchr(s, '\n') == NULL; }

/* ---- mapping: hand-computed SCALE-Sim v2 analytical values -------------------------- */

Test(mapping, conv_1x1_two_row_folds)
{
    /* 14x14x256 -> 64, 1x1: M=196, K=256, N=64; ceil(256/128)=2 row folds, 1 column fold;
     * 2 * (2*128 + 128 + 196 - 2) = 1156 cycles */
    ax_layer l = conv("pw", 14, 14, 1, 256, 64, 1);
    ax_mapping m = map(&l, 128, 128, 1);
    expect_counts(&m, 196, 64, 256, 2, 1156, 196 * 256, 256 * 64, 196 * 64 * 2);
    cr_expect_eq(m.macs, 196ull * 256 * 64);
    cr_expect_float_eq(m.utilization, 3211264.0 / (1156.0 * 16384), 1e-12);
    cr_expect_float_eq(m.mapping_efficiency, 256.0 * 64 / (16384.0 * 2), 1e-12);
}

Test(mapping, conv_3x3_padded_input)
{
    /* 56x56 padded to 58x58, 3x3x64 -> 64: M=3136, K=576 (5 row folds), N=64 */
    ax_layer l = conv("c3", 58, 58, 3, 64, 64, 1);
    ax_mapping m = map(&l, 128, 128, 1);
    expect_counts(&m, 3136, 64, 576, 5, 5 * (256 + 128 + 3136 - 2), 3136ull * 576, 576 * 64, 3136ull * 64 * 5);
}

Test(mapping, strided_and_separate_strides)
{
    /* ResNet conv1: 229x229 (224 + pad, cropped to what the kernel reads), 7x7/2:
     * out ceil((229 - 7 + 2) / 2) = 112, M = 12544, K = 147 (2 row folds) */
    ax_layer l = conv("conv1", 229, 229, 7, 3, 64, 2);
    ax_mapping m = map(&l, 128, 128, 1);
    expect_counts(&m, 12544, 64, 147, 2, 2 * (256 + 128 + 12544 - 2), 12544ull * 147, 147 * 64, 12544ull * 64 * 2);
    /* stride 1 x 2 on 10x12: out 8 x ceil(11/2) = 8 x 6 */
    ax_layer w = conv("wide", 10, 12, 3, 2, 4, 1);
    w.stride_w = 2;
    ax_mapping mw = map(&w, 4, 4, 1);
    cr_expect_eq(mw.out_h, 8);
    cr_expect_eq(mw.out_w, 6);
    /* K=18 on 4 rows: 5 row folds; N=4: 1 column fold; 5 * (8 + 4 + 48 - 2) = 290 */
    expect_counts(&mw, 48, 4, 18, 5, 290, 48 * 18, 18 * 4, 48 * 4 * 5);
}

Test(mapping, fc_larger_than_the_array)
{
    /* 2048 -> 1000: M=1, 16 row folds x 8 column folds = 128 folds of 2*128+128+1-2 = 383 */
    ax_layer l = conv("fc", 1, 1, 1, 2048, 1000, 1);
    ax_mapping m = map(&l, 128, 128, 1);
    expect_counts(&m, 1, 1000, 2048, 128, 128 * 383, 2048 * 8, 2048000, 1000 * 16);
    ax_mapping b = map(&l, 128, 128, 8); /* batch streams 8 rows */
    expect_counts(&b, 8, 1000, 2048, 128, 128 * 390, 8 * 2048 * 8, 2048000, 8 * 1000 * 16);
}

Test(mapping, depthwise_runs_channel_by_channel)
{
    /* MobileNetV2 features.1 depthwise: 32 channels of 3x3 on 112x112 (padded 114):
     * per channel M=12544, K=9, N=1: one fold of 256 + 128 + 12544 - 2 = 12926 cycles */
    ax_layer l = conv("dw", 114, 114, 3, 32, 1, 1);
    l.depthwise = true;
    ax_mapping m = map(&l, 128, 128, 1);
    cr_expect_eq(m.groups, 32);
    expect_counts(&m, 12544, 1, 9, 32, 32 * 12926, 32ull * 12544 * 9, 32 * 9, 32ull * 12544);
    cr_expect_eq(m.macs, 32ull * 12544 * 9);
}

Test(mapping, smaller_than_a_small_array)
{
    /* 5x5x2 -> 6, 3x3 on 4x4: M=9, K=18 (5 row folds), N=6 (2 column folds): 10 folds of 8+4+9-2 */
    ax_layer l = conv("tiny", 5, 5, 3, 2, 6, 1);
    ax_mapping m = map(&l, 4, 4, 1);
    expect_counts(&m, 9, 6, 18, 10, 190, 9 * 18 * 2, 18 * 6, 9 * 6 * 5);
    cr_expect_float_eq(m.mapping_efficiency, 18.0 * 6 / (16 * 10), 1e-12);
    /* SCALE-Sim's compute utilization: per fold used * M / (R*C*(2R + 2C + M - 3)) */
    cr_expect_float_eq(m.compute_utilization, 0.675 * 9 / 22, 1e-12);
    /* a layer that fits in one fold of a big array */
    ax_mapping big = map(&l, 128, 128, 1);
    expect_counts(&big, 9, 6, 18, 1, 256 + 128 + 9 - 2, 9 * 18, 18 * 6, 9 * 6);
}

Test(mapping, errors_are_values)
{
    ax_layer l = conv("bad", 3, 3, 5, 1, 1, 1);
    ax_mapping m;
    ax_error e;
    cr_expect_neq(ax_map_ws(&l, 128, 128, 1, &m, &e), 0);
    cr_expect(strstr(e.msg, "bad") != NULL, "%s", e.msg);
    ax_layer ok = conv("ok", 3, 3, 1, 1, 1, 1);
    cr_expect_neq(ax_map_ws(&ok, 0, 128, 1, &m, &e), 0);
    cr_expect_neq(ax_map_ws(&ok, 128, 128, 0, &m, &e), 0);
    ax_layer huge = conv("huge", 2000000000, 2000000000, 1, 2000000000, 2000000000, 1);
    cr_expect_neq(ax_map_ws(&huge, 128, 128, 1000, &m, &e), 0, "64-bit overflow must be caught");
}

/* ---- topology files ----------------------------------------------------------------- */

Test(topology, scalesim_spreadsheet_export_reads)
{
    char *p = fixture("scalesim_style.csv");
    ax_topology *t;
    ax_error e;
    cr_assert_eq(ax_topology_load(p, &t, &e), 0, "%s", e.msg);
    cr_assert_eq(t->n_layers, 4);
    cr_expect_str_eq(t->name, "scalesim_style");
    cr_expect_str_eq(t->layers[0].name, "Conv1");
    cr_expect_eq(t->layers[0].stride_w, 2, "one Strides column sets both");
    cr_expect_str_eq(t->layers[1].name, "CB2a_2", "tab trimmed, '#dw' note in an unnamed column ignored");
    cr_expect_str_eq(t->layers[2].name, "FC6", "quoted cell, no trailing comma");
    cr_expect_eq(t->layers[2].channels, 2048);
    cr_expect(t->layers[3].depthwise, "'DP' in the name marks depthwise");
    cr_expect(!t->layers[0].depthwise);
    cr_expect_eq(t->layers[3].line, 8);
    cr_expect_eq(ax_topology_find(t, "FC6"), 2);
    ax_topology_free(t);
    free(p);
}

Test(topology, stride_columns_and_depthwise_column)
{
    char *p = fixture("strides.csv");
    ax_topology *t;
    ax_error e;
    cr_assert_eq(ax_topology_load(p, &t, &e), 0, "%s", e.msg);
    cr_assert_eq(t->n_layers, 2);
    cr_expect_eq(t->layers[0].stride_h, 1);
    cr_expect_eq(t->layers[0].stride_w, 2);
    cr_expect(!t->layers[0].depthwise);
    cr_expect(t->layers[1].depthwise);
    ax_topology_free(t);
    free(p);
}

Test(topology, gemm_mode)
{
    char *p = fixture("gemm.csv");
    ax_topology *t;
    ax_error e;
    cr_assert_eq(ax_topology_load(p, &t, &e), 0, "%s", e.msg);
    cr_assert(t->gemm_mode);
    cr_assert_eq(t->n_layers, 2);
    ax_mapping m = map(&t->layers[0], 128, 128, 1);
    /* M=64, N=100, K=300: 3 row folds of 256 + 128 + 64 - 2 */
    expect_counts(&m, 64, 100, 300, 3, 3 * 446, 64 * 300, 300 * 100, 64 * 100 * 3);
    ax_topology_free(t);
    free(p);
}

Test(topology, shipped_networks_have_their_published_mac_counts)
{
    /* torchvision at 224x224: ResNet-50 4.09 GMAC (54 conv/FC layers), MobileNetV2 300.8 MMAC (53) */
    static const struct { const char *file; size_t layers; uint64_t macs; } nets[] = {
        {"models/topologies/resnet50.csv", 54, 4089184256ull},
        {"models/topologies/mobilenetv2.csv", 53, 300774272ull},
    };
    for (size_t n = 0; n < 2; n++) {
        char *p = repo_file(nets[n].file);
        ax_topology *t;
        ax_error e;
        cr_assert_eq(ax_topology_load(p, &t, &e), 0, "%s", e.msg);
        cr_expect_eq(t->n_layers, nets[n].layers, "%s: %zu layers", p, t->n_layers);
        uint64_t macs = 0;
        for (size_t i = 0; i < t->n_layers; i++) macs += map(&t->layers[i], 128, 128, 1).macs;
        cr_expect_eq(macs, nets[n].macs, "%s: %llu MACs", p, (unsigned long long)macs);
        ax_topology_free(t);
        free(p);
    }
}

/* Parses text as a topology called bad.csv and expects an error containing want and "bad.csv:line:". */
static void expect_topology_error(const char *text, int line, const char *want)
{
    ax_topology *t = NULL;
    ax_error e;
    cr_assert_neq(ax_topology_parse(text, strlen(text), "bad.csv", &t, &e), 0, "accepted: %s", text);
    cr_expect_null(t);
    char where[32];
    if (line) snprintf(where, sizeof where, "bad.csv:%d:", line);
    else snprintf(where, sizeof where, "bad.csv:");
    cr_expect(strstr(e.msg, where) != NULL, "want '%s' in: %s", where, e.msg);
    cr_expect(strstr(e.msg, want) != NULL, "want '%s' in: %s", want, e.msg);
    cr_expect(one_line(e.msg), "%s", e.msg);
}

#define HDR "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"

Test(topology, malformed_rows_name_their_line)
{
    expect_topology_error(HDR "a, 8, 8, 3, 3, 4, 4, 1,\nb, 8, 8, 3, 3, four, 4, 1,\n", 3, "Channels");
    expect_topology_error(HDR "a, 8, 8, 3, 3, 4, 4,\n", 2, "Strides");
    expect_topology_error(HDR "a, 8, 8, 3, 3, 4, 0, 1,\n", 2, "Num Filter");
    expect_topology_error(HDR "a, 8, 8, 3, 3, 4, -4, 1,\n", 2, "Num Filter");
    expect_topology_error(HDR "a, 2, 8, 3, 3, 4, 4, 1,\n", 2, "larger than its IFMAP");
    expect_topology_error(HDR "a, 8, 8, 3, 3, 4, 4, 1,\n\na, 8, 8, 3, 3, 4, 4, 1,\n", 4, "twice");
    expect_topology_error(HDR ", 8, 8, 3, 3, 4, 4, 1,\n", 2, "name");
    expect_topology_error("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels,\n", 1,
                          "Num Filter");
    expect_topology_error("Layer, M, N,\ng, 1, 2,\n", 1, "IFMAP Height");
    expect_topology_error("Layer, M, N, K,\ng, 1, 2, x,\n", 2, "'K'");
    expect_topology_error(HDR, 0, "no layers");
    expect_topology_error("\n\n", 0, "empty");
    expect_topology_error("Layer name,IFMAP Height,IFMAP Width,Filter Height,Filter Width,Channels,Num Filter,"
                          "Stride height,Stride width,Depthwise\nd,8,8,3,3,4,1,1,1,maybe\n", 2, "Depthwise");
}

Test(topology, missing_file_is_named)
{
    ax_topology *t;
    ax_error e;
    cr_expect_neq(ax_topology_load("/no/such/net.csv", &t, &e), 0);
    cr_expect(strstr(e.msg, "/no/such/net.csv") != NULL, "%s", e.msg);
}

/* ---- SCALE-Sim config ----------------------------------------------------------------- */

Test(config, scalesim_cfg_reads)
{
    char *p = fixture("ws.cfg"), *q = fixture("os.cfg");
    ax_scalesim_config c;
    ax_error e;
    cr_assert_eq(ax_scalesim_config_load(p, &c, &e), 0, "%s", e.msg);
    cr_expect_eq(c.rows, 32);
    cr_expect_eq(c.cols, 16);
    cr_expect_eq(c.dataflow, AX_DATAFLOW_WS);
    cr_expect_float_eq(c.ifmap_sram_kb, 6144, 1e-9);
    cr_expect_float_eq(c.ofmap_sram_kb, 2048, 1e-9);
    cr_expect_str_eq(c.run_name, "tpu_like");
    cr_assert_eq(ax_scalesim_config_load(q, &c, &e), 0, "%s", e.msg);
    cr_expect_eq(c.dataflow, AX_DATAFLOW_OS);
    cr_expect_eq(c.dataflow_line, 13);
    free(p), free(q);
}

static void expect_config_error(const char *text, int line, const char *want)
{
    ax_scalesim_config c;
    ax_error e;
    cr_assert_neq(ax_scalesim_config_parse(text, strlen(text), "bad.cfg", &c, &e), 0, "accepted: %s", text);
    char where[32];
    if (line) snprintf(where, sizeof where, "bad.cfg:%d:", line);
    else snprintf(where, sizeof where, "bad.cfg:");
    cr_expect(strstr(e.msg, where) != NULL, "want '%s' in: %s", where, e.msg);
    cr_expect(strstr(e.msg, want) != NULL, "want '%s' in: %s", want, e.msg);
    cr_expect(one_line(e.msg), "%s", e.msg);
}

Test(config, malformed_config_names_its_line)
{
    expect_config_error("[architecture_presets]\nArrayHeight: 32\nArrayWidth: wide\n", 3, "ArrayWidth");
    expect_config_error("[architecture_presets]\nArrayHeight: 0\nArrayWidth: 8\n", 2, "ArrayHeight");
    expect_config_error("[architecture_presets]\nArrayHeight: 8\nArrayWidth: 8\nDataflow: rs\n", 4, "Dataflow");
    expect_config_error("[architecture_presets\nArrayHeight: 8\n", 1, "section");
    expect_config_error("[architecture_presets]\njust words\n", 2, "key: value");
    expect_config_error("[architecture_presets]\nArrayHeight: 8\nIfmapSramSzkB: lots\nArrayWidth: 8\n", 3,
                        "IfmapSramSzkB");
    expect_config_error("[general]\nrun_name = x\n", 0, "architecture_presets");
    expect_config_error("[architecture_presets]\nArrayHeight: 8\n", 0, "ArrayWidth");
}

/* ---- chips -------------------------------------------------------------------------- */

Test(chip, default_is_tpuv3_like_with_its_peak_rate)
{
    ax_chip c;
    ax_chip_default(&c);
    cr_expect_eq(c.cores, 2);
    cr_expect_eq(c.n_arrays, 4);
    cr_expect_float_eq(c.freq_mhz, 940, 1e-9);
    for (size_t i = 0; i < c.n_arrays; i++) {
        cr_expect_eq(c.arrays[i].rows, 128);
        cr_expect_eq(c.arrays[i].cols, 128);
        cr_expect_eq(c.arrays[i].core, i / 2);
    }
    /* 2 cores x 2 arrays x 128 x 128 x 940 MHz = 61.6 TMAC/s (TPUv3's 123 Tops/s peak counts 2 ops per MAC) */
    double peak = ax_chip_peak_macs_per_s(&c);
    cr_expect_float_eq(peak, 2.0 * 2 * 128 * 128 * 940e6, 1.0);
    cr_expect(fabs(peak / 1e12 - 61.6) < 0.05, "%g", peak);
}

Test(chip, file_overrides_the_template)
{
    char *p = fixture("chip_small.json");
    ax_chip c;
    ax_error e;
    cr_assert_eq(ax_chip_load(p, &c, &e), 0, "%s", e.msg);
    cr_expect_str_eq(c.name, "two-array-test-chip");
    cr_expect_eq(c.cores, 1);
    cr_expect_eq(c.n_arrays, 2);
    cr_expect_str_eq(c.arrays[1].id, "X");
    cr_expect_eq(c.arrays[1].rows, 32);
    cr_expect_str_eq(c.arrays[0].mult, "exact-s8");
    cr_expect_float_eq(c.hbm_pj_per_bit, 3.9, 1e-12, "absent keys keep the default");
    cr_expect_float_eq(ax_chip_peak_macs_per_s(&c), 2.0 * 32 * 32 * 700e6, 1.0);
    const char *gen = "{\"cores\": 3, \"arrays_per_core\": 1, \"array\": {\"rows\": 64, \"cols\": 256}}";
    cr_assert_eq(ax_chip_parse(gen, strlen(gen), "gen.json", &c, &e), 0, "%s", e.msg);
    cr_expect_eq(c.n_arrays, 3);
    cr_expect_str_eq(c.arrays[2].id, "A2");
    cr_expect_eq(c.arrays[2].core, 2);
    cr_expect_eq(c.arrays[2].cols, 256);
    free(p);
}

static void expect_chip_error(const char *text, int line, const char *want)
{
    ax_chip c;
    ax_error e;
    cr_assert_neq(ax_chip_parse(text, strlen(text), "bad.json", &c, &e), 0, "accepted: %s", text);
    char where[32];
    if (line) snprintf(where, sizeof where, "bad.json:%d:", line);
    else snprintf(where, sizeof where, "bad.json");
    cr_expect(strstr(e.msg, where) != NULL, "want '%s' in: %s", where, e.msg);
    cr_expect(strstr(e.msg, want) != NULL, "want '%s' in: %s", want, e.msg);
    cr_expect(one_line(e.msg), "%s", e.msg);
}

Test(chip, malformed_chip_files)
{
    expect_chip_error("{\n \"freq_mhz\": 940,\n \"cores\": 2\n \"node_nm\": 16\n}\n", 4, "invalid JSON");
    expect_chip_error("{\n \"freq_mhz\": 940,\n", 3, "ends early");
    expect_chip_error("{\n \"freq_mzh\": 940\n}\n", 2, "unknown key 'freq_mzh'");
    expect_chip_error("{\n \"freq_mhz\": \"fast\"\n}\n", 2, "expected a number");
    expect_chip_error("{\n \"freq_mhz\": -5\n}\n", 2, "out of range");
    expect_chip_error("{\"cores\": 1.5}", 1, "not an integer");
    expect_chip_error("{\"cores\": 1,\n \"arrays\": [{\"id\": \"B\", \"core\": 1}]}", 2, "core");
    expect_chip_error("{\"arrays\": [{\"id\": \"B\"}, {\"id\": \"B\"}]}", 0, "twice");
    expect_chip_error("{\"arrays\": [{\"rows\": 8}]}", 0, "id");
    expect_chip_error("{\"arrays\": []}", 0, "non-empty");
    expect_chip_error("{\"arrays\": [{\"id\": \"B\", \"rows\": 0}]}", 1, "rows");
    expect_chip_error("[1, 2]", 0, "object");
    expect_chip_error("{} trailing", 1, "after the JSON");
}

/* ---- assignments and binding ---------------------------------------------------------- */

static int family_resolver(const char *spec, ax_mult **out, ax_error *err, void *ctx)
{
    (void)ctx;
    return ax_mult_from_family_spec(spec, out, err);
}

static ax_topology *small_net(void)
{
    const char *text =
        HDR "conv1, 34, 34, 3, 3, 3, 32, 1,\nblock, 32, 32, 1, 1, 32, 64, 1,\nfc, 1, 1, 1, 1, 256, 10, 1,\n";
    ax_topology *t;
    ax_error e;
    cr_assert_eq(ax_topology_parse(text, strlen(text), "small.csv", &t, &e), 0, "%s", e.msg);
    return t;
}

static ax_assignment *parse_assign(const char *text)
{
    ax_assignment *a;
    ax_error e;
    cr_assert_eq(ax_assignment_parse(text, strlen(text), "a.json", &a, &e), 0, "%s", e.msg);
    return a;
}

Test(assign, reads_and_binds_to_the_default_chip)
{
    ax_assignment *a =
        parse_assign("{\"version\": 1, \"model_sha256\": \"00ff\", \"provenance\": {\"tool\": \"router\"},\n "
                     "\"arrays\": {\"E\": \"exact-s8\", "
                     "\"T\": \"trunc-s8:k=6\"},\n \"layers\": {\"conv1\": \"E\", \"block\": \"T\", \"fc\": \"E\"}}");
    cr_expect_eq(a->n_arrays, 2);
    cr_expect_eq(a->n_layers, 3);
    cr_expect_str_eq(a->model_sha256, "00ff");
    ax_topology *t = small_net();
    ax_binding b;
    ax_error e;
    cr_assert_eq(ax_bind(NULL, a, t, family_resolver, NULL, &b, &e), 0, "%s", e.msg);
    cr_expect_eq(b.chip.n_arrays, 2, "without --chip the arrays come from the assignment");
    cr_expect_str_eq(b.chip.arrays[1].id, "T");
    cr_expect_str_eq(b.mult[1]->name, "trunc-s8:k=6");
    cr_expect_eq(b.layer_array[0], 0);
    cr_expect_eq(b.layer_array[1], 1);
    cr_expect_eq(b.layer_array[2], 0);
    ax_binding x;
    cr_assert_eq(ax_bind_exact(&b, &x, &e), 0, "%s", e.msg);
    cr_expect(ax_mult_is_exact(x.mult[1]));
    ax_binding_free(&x);
    ax_binding_free(&b);
    ax_topology_free(t);
    ax_assignment_free(a);
}

static void expect_assign_error(const char *text, int line, const char *want)
{
    ax_assignment *a = NULL;
    ax_error e;
    cr_assert_neq(ax_assignment_parse(text, strlen(text), "bad.json", &a, &e), 0, "accepted: %s", text);
    cr_expect_null(a);
    char where[32];
    if (line) snprintf(where, sizeof where, "bad.json:%d:", line);
    else snprintf(where, sizeof where, "bad.json");
    cr_expect(strstr(e.msg, where) != NULL, "want '%s' in: %s", where, e.msg);
    cr_expect(strstr(e.msg, want) != NULL, "want '%s' in: %s", want, e.msg);
    cr_expect(one_line(e.msg), "%s", e.msg);
}

Test(assign, malformed_assignment_files)
{
    expect_assign_error("{\"arrays\": {\"A0\": \"exact-s8\"}, \"layers\": {\"x\": \"A0\"}}", 0, "version");
    expect_assign_error("{\"version\": 2, \"arrays\": {\"A0\": \"exact-s8\"}, \"layers\": {\"x\": \"A0\"}}", 1,
                        "version 2");
    expect_assign_error("{\"version\": 1,\n\"layers\": {\"x\": \"A0\"}}", 0, "arrays");
    expect_assign_error(
        "{\"version\": 1,\n\"arrays\": {\"A0\": \"exact-s8\"},\n\"layers\": {\n\"x\": \"A0\",\n\"y\": \"A9\"}}", 5,
        "A9");
    expect_assign_error("{\"version\": 1,\n\"arrays\": {\"A0\": 7},\n\"layers\": {\"x\": \"A0\"}}", 2, "SPEC");
    expect_assign_error("{\"version\": 1,\n\"arrays\": {\"A0\": \"exact-s8\"},\n\"layers\": {\"x\": 0}}", 3,
                        "array id");
    expect_assign_error(
        "{\"version\": 1, \"model_sha256\": \"xyz\", \"arrays\": {\"A0\": \"e\"}, \"layers\": {\"x\": \"A0\"}}", 1,
        "hex");
    expect_assign_error("{\"version\": 1, \"arrays\": {\"A0\": \"exact-s8\"}\n\"layers\": {}}", 2, "invalid JSON");
}

static void expect_bind_error(const ax_chip *chip, const char *assign, const char *want)
{
    ax_assignment *a = parse_assign(assign);
    ax_topology *t = small_net();
    ax_binding b;
    ax_error e;
    cr_expect_neq(ax_bind(chip, a, t, family_resolver, NULL, &b, &e), 0, "bound: %s", assign);
    cr_expect(strstr(e.msg, want) != NULL, "want '%s' in: %s", want, e.msg);
    cr_expect(one_line(e.msg), "%s", e.msg);
    ax_topology_free(t);
    ax_assignment_free(a);
}

Test(assign, layers_and_arrays_must_match_network_and_chip)
{
    ax_chip c;
    ax_chip_default(&c);
    expect_bind_error(NULL,
                      "{\"version\":1,\"arrays\":{\"A0\":\"exact-s8\"},\"layers\":{\"conv1\":\"A0\",\"fc\":\"A0\"}}",
                      "'block' (small line 3) has no array");
    expect_bind_error(NULL,
                      "{\"version\":1,\"arrays\":{\"A0\":\"exact-s8\"},\"layers\":{\"conv1\":\"A0\",\"block\":\"A0\","
                      "\"fc\":\"A0\",\"ghost\":\"A0\"}}",
                      "'ghost' is not in the network");
    expect_bind_error(
        &c,
        "{\"version\":1,\"arrays\":{\"A0\":\"exact-s8\",\"A7\":\"exact-s8\"},\"layers\":{\"conv1\":\"A7\","
        "\"block\":\"A0\",\"fc\":\"A0\"}}",
        "array 'A7' is not on the chip");
    expect_bind_error(&c,
                      "{\"version\":1,\"arrays\":{\"A0\":\"nosuch-s8\"},\"layers\":{\"conv1\":\"A0\",\"block\":\"A0\","
                      "\"fc\":\"A0\"}}",
                      "array A0: nosuch-s8");
}

/* ---- the PE and the chip: cheaper multipliers never cost more ----------------------------- */

static ax_pe_cost pe_of(const char *spec)
{
    ax_mult *m;
    ax_error e;
    cr_assert_eq(ax_mult_from_family_spec(spec, &m, &e), 0, "%s", e.msg);
    ax_pe_cost pe;
    cr_assert_eq(ax_pe_cost_of(m, &pe, &e), 0, "%s", e.msg);
    ax_mult_free(m);
    return pe;
}

Test(pe, exact_multiplier_uses_evoapprox_reference_figures)
{
    ax_pe_cost s = pe_of("exact-s8"), u = pe_of("exact-u8");
    cr_expect_float_eq(s.mult_area_um2, 729.8, 1e-9);
    cr_expect_float_eq(u.mult_area_um2, 709.6, 1e-9);
    cr_expect_float_eq(s.mult_rel_power, 1.0, 1e-12);
    cr_expect_float_eq(s.mult_energy_pj, 0.2, 1e-12, "Horowitz: 8-bit multiply 0.2 pJ at 45 nm");
    cr_expect_float_eq(s.adder_energy_pj, 0.1, 1e-12, "Horowitz: 32-bit add 0.1 pJ");
    cr_expect_float_eq(s.area_um2, s.mult_area_um2 + s.adder_area_um2 + s.reg_area_um2, 1e-9);
    /* trunc k=6 keeps 64 - 21 = 43 of 64 partial-product cells */
    ax_pe_cost t6 = pe_of("trunc-s8:k=6");
    cr_expect_float_eq(t6.mult_rel_area, 43.0 / 64, 1e-12);
    cr_expect(strstr(t6.source, "43/64") != NULL, "%s", t6.source);
}

Test(pe, cheaper_family_multipliers_never_cost_more)
{
    static const char *const ladder[] = {"exact-s8", "trunc-s8:k=2", "trunc-s8:k=4", "trunc-s8:k=6", "trunc-s8:k=8"};
    for (size_t i = 1; i < sizeof ladder / sizeof *ladder; i++) {
        ax_pe_cost a = pe_of(ladder[i - 1]), b = pe_of(ladder[i]);
        cr_expect_lt(b.area_um2, a.area_um2, "%s vs %s", ladder[i], ladder[i - 1]);
        cr_expect_lt(b.energy_pj, a.energy_pj, "%s vs %s", ladder[i], ladder[i - 1]);
    }
    /* every built-in family with its defaults prices without error, at most the exact cost + overheads */
    static const char *const all[] = {"bam-s8", "perforated-s8", "optrunc-s8", "drum-s8", "mitchell-s8",
                                      "trunc-u8:k=6", "bam-u8s8:hbl=2,vbl=6"};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
        ax_pe_cost p = pe_of(all[i]);
        cr_expect_gt(p.area_um2, 0, "%s", all[i]);
    }
}

Test(pe, a_table_without_figures_is_an_error)
{
    ax_mult *m;
    ax_error e;
    cr_assert_eq(ax_mult_from_family_spec("trunc-s8:k=6", &m, &e), 0, "%s", e.msg);
    snprintf(m->provenance, sizeof m->provenance, "import=raw file=x.bin");
    ax_pe_cost pe;
    cr_expect_neq(ax_pe_cost_of(m, &pe, &e), 0);
    cr_expect(strstr(e.msg, "--power") != NULL, "%s", e.msg);
    m->hw.power_mw = 0.2; /* figures at another node are scaled to 45 nm */
    m->hw.area_um2 = 300;
    snprintf(m->hw.node, sizeof m->hw.node, "28nm");
    cr_assert_eq(ax_pe_cost_of(m, &pe, &e), 0, "%s", e.msg);
    cr_expect_float_eq(pe.mult_area_um2, 300 / ((28.0 / 45) * (28.0 / 45)), 1e-9);
    snprintf(m->hw.node, sizeof m->hw.node, "tiny");
    cr_expect_neq(ax_pe_cost_of(m, &pe, &e), 0);
    ax_mult_free(m);
}

/* Resolver handing out copies of one multiplier for every array. */
static int copy_resolver(const char *spec, ax_mult **out, ax_error *err, void *ctx)
{
    (void)spec;
    *out = ax_mult_new();
    if (!*out) return -1;
    memcpy(*out, ctx, sizeof **out);
    (void)err;
    return 0;
}

static ax_ppa_report chip_with(const ax_mult *m, const ax_topology *t)
{
    ax_binding b;
    ax_ppa_report r;
    ax_error e;
    cr_assert_eq(ax_bind(NULL, NULL, t, copy_resolver, (void *)m, &b, &e), 0, "%s", e.msg);
    cr_assert_eq(ax_ppa_evaluate(&b, t, 1, &r, &e), 0, "%s", e.msg);
    ax_binding_free(&b);
    return r;
}

static void expect_not_costlier(const ax_mult *cheap, const ax_mult *dear, const ax_topology *t)
{
    ax_ppa_report a = chip_with(cheap, t), b = chip_with(dear, t);
    cr_expect_leq(a.chip.area_mm2, b.chip.area_mm2, "%s vs %s", cheap->name, dear->name);
    cr_expect_leq(a.chip.power_w, b.chip.power_w, "%s vs %s", cheap->name, dear->name);
    cr_expect_leq(a.chip.energy_mj, b.chip.energy_mj, "%s vs %s", cheap->name, dear->name);
    cr_expect_float_eq(a.chip.latency_ms, b.chip.latency_ms, 1e-12, "the mapping does not depend on the multiplier");
    ax_ppa_report_free(&a);
    ax_ppa_report_free(&b);
}

Test(chipmodel, cheaper_family_multiplier_never_raises_chip_area_or_power)
{
    ax_topology *t = small_net();
    static const char *const ladder[] = {"exact-s8", "trunc-s8:k=4", "trunc-s8:k=8"};
    ax_mult *m[3];
    ax_error e;
    for (int i = 0; i < 3; i++) cr_assert_eq(ax_mult_from_family_spec(ladder[i], &m[i], &e), 0, "%s", e.msg);
    expect_not_costlier(m[1], m[0], t);
    expect_not_costlier(m[2], m[1], t);
    ax_ppa_report a = chip_with(m[2], t), b = chip_with(m[0], t);
    cr_expect_lt(a.chip.area_mm2, b.chip.area_mm2, "k=8 must save area");
    cr_expect_lt(a.chip.power_w, b.chip.power_w, "k=8 must save power");
    ax_ppa_report_free(&a), ax_ppa_report_free(&b);
    for (int i = 0; i < 3; i++) ax_mult_free(m[i]);
    ax_topology_free(t);
}

/* name,signed,power,area,... from the EvoApproxLib manifest */
typedef struct evo_row {
    char name[64];
    double power, area;
} evo_row;

static size_t read_manifest(const char *dir, evo_row *rows, size_t max)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.csv", dir);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[4096];
    size_t n = 0;
    if (!fgets(line, sizeof line, f)) n = max; /* header */
    while (n < max && fgets(line, sizeof line, f)) {
        evo_row r;
        int sgn;
        if (sscanf(line, "%63[^,],%d,%lf,%lf", r.name, &sgn, &r.power, &r.area) == 4 && sgn == 1 &&
            !strstr(r.name, "_v1"))
            rows[n++] = r;
    }
    fclose(f);
    return n == max ? 0 : n;
}

Test(chipmodel, evoapprox_figures_order_the_chips)
{
    const char *dir = getenv("AX_EVOAPPROX_DIR");
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/manifest.csv", dir ? dir : "");
    if (!dir || access(probe, R_OK) != 0) {
        cr_skip_test(
            "EvoApproxLib reference folder not found (set AX_EVOAPPROX_DIR): skipping the published-figure check");
        return;
    }
    evo_row rows[128];
    size_t n = read_manifest(dir, rows, 128);
    cr_assert_gt(n, 10, "too few signed multipliers in %s", probe);
    size_t step = ax_test_reduced() ? 4 : 1;
    ax_topology *t = small_net();
    ax_mult *m[128] = {0};
    ax_ppa_report r[128];
    for (size_t i = 0; i < n; i += step) {
        ax_error e;
        cr_assert_eq(ax_mult_resolve(rows[i].name, &m[i], &e), 0, "%s", e.msg);
        cr_assert_float_eq(m[i]->hw.power_mw, rows[i].power, 1e-9, "%s figures travel with the table", rows[i].name);
        r[i] = chip_with(m[i], t);
    }
    /* whenever one circuit is no larger and no hungrier than another, its chip is neither */
    for (size_t i = 0; i < n; i += step)
        for (size_t j = 0; j < n; j += step)
            if (rows[i].power <= rows[j].power && rows[i].area <= rows[j].area) {
                cr_expect_leq(r[i].chip.area_mm2, r[j].chip.area_mm2 + 1e-12, "%s vs %s", rows[i].name, rows[j].name);
                cr_expect_leq(r[i].chip.power_w, r[j].chip.power_w + 1e-12, "%s vs %s", rows[i].name, rows[j].name);
            }
    for (size_t i = 0; i < n; i += step) {
        ax_ppa_report_free(&r[i]);
        ax_mult_free(m[i]);
    }
    ax_topology_free(t);
}

Test(chipmodel, report_is_consistent)
{
    ax_topology *t = small_net();
    ax_mult *m;
    ax_error e;
    cr_assert_eq(ax_mult_from_family_spec("exact-s8", &m, &e), 0, "%s", e.msg);
    ax_ppa_report r = chip_with(m, t);
    cr_expect_float_eq(r.peak_macs_per_s, 2.0 * 2 * 128 * 128 * 940e6, 1.0);
    double lat = 0, arr_area = 0;
    uint64_t macs = 0;
    for (size_t i = 0; i < r.n_layers; i++) {
        lat += r.layers[i].time_ms;
        macs += r.layers[i].map.macs;
        cr_expect_eq(r.layers[i].array, 0, "without an assignment every layer runs on the first array");
    }
    for (size_t i = 0; i < r.n_arrays; i++) arr_area += r.arrays[i].fig.area_mm2;
    cr_expect_float_eq(lat, r.chip.latency_ms, 1e-12);
    cr_expect_eq(macs, r.macs);
    cr_expect_float_eq(arr_area, r.parts.area_arrays, 1e-9);
    cr_expect_lt(r.parts.area_arrays, r.chip.area_mm2);
    cr_expect_float_eq(r.chip.throughput_ips, 1e3 / r.chip.latency_ms, 1e-6);
    cr_expect_float_eq(r.chip.power_w * r.chip.latency_ms, r.chip.energy_mj, 1e-9, "batch 1: P * t = E");
    cr_expect_gt(r.arrays[1].fig.power_w, 0, "idle arrays leak");
    cr_expect_float_eq(r.arrays[1].fig.latency_ms, 0, 1e-12);
    cr_expect(r.chip.utilization > 0 && r.chip.utilization <= 1);
    ax_ppa_report_free(&r);
    ax_mult_free(m);
    ax_topology_free(t);
}

/* ---- the commands ---------------------------------------------------------------------- */

static int run(char **out, char **err, const char *const *argv)
{
    int rc = ax_test_cli(out, err, argv);
    cr_assert_neq(rc, -1, "AX_CLI not set");
    return rc;
}

static json_object *get(json_object *o, const char *key)
{
    json_object *v = NULL;
    cr_assert(json_object_object_get_ex(o, key, &v), "key %s missing", key);
    return v;
}

Test(cli_systolic, json_keys_and_compute_report)
{
    char *dir = ax_test_tmpdir(), *topo = fixture("scalesim_style.csv"), *rep = ax_test_path(dir, "rep");
    char *out, *err;
    cr_assert_eq(run(&out, &err, (const char *[]){"systolic", "--topology", topo, "--array", "128x128", "--report-dir",
                                                  rep, "--json", "-", NULL}), 0, "%s", err);
    json_object *o = json_tokener_parse(out);
    cr_assert_not_null(o, "not JSON: %s", out);
    json_object *arr = get(o, "array");
    cr_expect_eq(json_object_get_int(get(arr, "rows")), 128);
    cr_expect_eq(json_object_get_int(get(arr, "cols")), 128);
    cr_expect_str_eq(json_object_get_string(get(arr, "dataflow")), "ws");
    json_object *ls = get(o, "layers");
    cr_assert_eq(json_object_array_length(ls), 4);
    static const char *const keys[] = {"name", "M", "N", "K", "folds", "cycles", "utilization", "ifmap_reads",
                                       "filter_reads", "ofmap_writes"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) get(json_object_array_get_idx(ls, 0), keys[i]);
    cr_expect_eq(json_object_get_int64(get(json_object_array_get_idx(ls, 2), "cycles")), 128 * 383);
    cr_expect_eq(json_object_get_int64(get(o, "total_cycles")), 25852 + 17590 + 49024 + 413632);
    get(get(o, "provenance"), "git_revision");
    json_object_put(o);
    free(out), free(err);

    char *csv = ax_test_path(rep, "COMPUTE_REPORT.csv");
    FILE *f = fopen(csv, "r");
    cr_assert_not_null(f, "%s not written", csv);
    char line[512];
    cr_assert_not_null(fgets(line, sizeof line, f));
    cr_expect_str_eq(line,
                     "LayerID, Total Cycles, Stall Cycles, Overall Util %, Mapping Efficiency %, Compute Util %,\n");
    int rows = 0;
    unsigned long long cyc = 0;
    while (fgets(line, sizeof line, f)) {
        int id;
        unsigned long long c, stall;
        cr_assert_eq(sscanf(line, "%d, %llu, %llu,", &id, &c, &stall), 3, "%s", line);
        cr_expect_eq(id, rows++);
        cr_expect_eq(stall, 0);
        if (id == 0) cyc = c;
    }
    fclose(f);
    cr_expect_eq(rows, 4);
    cr_expect_eq(cyc, 25852);
    free(csv), free(topo), free(rep);
    ax_test_rmtree(dir);
    free(dir);
}

Test(cli_systolic, config_and_usage_errors)
{
    char *topo = fixture("gemm.csv"), *ws = fixture("ws.cfg"), *os = fixture("os.cfg");
    char *out, *err;
    cr_assert_eq(run(&out, &err, (const char *[]){"systolic", "--topology", topo, "--config", ws, "--json", "-", NULL}),
                 0, "%s", err);
    json_object *o = json_tokener_parse(out);
    cr_assert_not_null(o);
    cr_expect_eq(json_object_get_int(get(get(o, "array"), "rows")), 32, "array size from the config");
    json_object_put(o);
    free(out), free(err);
    cr_expect_eq(run(&out, &err, (const char *[]){"systolic", "--topology", topo, "--config", os, NULL}), 1);
    cr_expect(strstr(err, "only weight-stationary (ws) is modelled") != NULL, "%s", err);
    cr_expect(strstr(err, "os.cfg:13:") != NULL, "%s", err);
    cr_expect_eq(strchr(err, '\n'), err + strlen(err) - 1, "one line: %s", err);
    free(out), free(err);
    cr_expect_eq(run(&out, &err, (const char *[]){"systolic", "--model", "net.onnx", NULL}), 1);
    cr_expect(strstr(err, "net.onnx") != NULL, "%s", err);
    cr_expect_eq(strchr(err, '\n'), err + strlen(err) - 1, "one line: %s", err);
    free(out), free(err);
    cr_expect_eq(run(&out, &err, (const char *[]){"systolic", "--topology", topo, "--array", "128by128", NULL}), 2);
    free(out), free(err);
    cr_expect_eq(run(&out, &err, (const char *[]){"systolic", NULL}), 2);
    free(out), free(err);
    cr_expect_eq(run(&out, &err, (const char *[]){"systolic", "--help", NULL}), 0);
    cr_expect(strstr(out, "--report-dir") != NULL);
    free(out), free(err);
    free(topo), free(ws), free(os);
}

Test(cli_systolic, malformed_topology_is_one_line_naming_file_and_line)
{
    char *dir = ax_test_tmpdir(), *bad = ax_test_path(dir, "bad.csv");
    const char *text = HDR "a, 8, 8, 3, 3, 4, 4, 1,\nb, 8, 8, 3, 3, 4, x, 1,\n";
    cr_assert_eq(ax_test_write(bad, text, strlen(text)), 0);
    char *out, *err, want[4200];
    cr_expect_eq(run(&out, &err, (const char *[]){"systolic", "--topology", bad, NULL}), 1);
    snprintf(want, sizeof want, "%s:3:", bad);
    cr_expect(strstr(err, want) != NULL, "%s", err);
    cr_expect_eq(strchr(err, '\n'), err + strlen(err) - 1, "one line: %s", err);
    free(out), free(err), free(bad);
    ax_test_rmtree(dir);
    free(dir);
}

Test(cli_ppa, json_keys_and_deltas)
{
    char *topo = repo_file("models/topologies/resnet50.csv");
    char *out, *err;
    cr_assert_eq(run(&out, &err, (const char *[]){"ppa", "--topology", topo, "--json", "-", NULL}), 0, "%s", err);
    json_object *o = json_tokener_parse(out);
    cr_assert_not_null(o, "not JSON: %s", out);
    static const char *const fig[] = {"area_mm2", "power_w", "energy_mj", "latency_ms", "throughput_ips"};
    for (size_t i = 0; i < 5; i++) {
        get(get(o, "chip"), fig[i]);
        get(get(o, "exact_chip"), fig[i]);
    }
    static const char *const dk[] = {"area_pct", "power_pct", "energy_pct"};
    for (size_t i = 0; i < 3; i++)
        cr_expect_float_eq(json_object_get_double(get(get(o, "delta"), dk[i])), 0, 1e-9, "all exact: no delta");
    cr_expect_eq(json_object_array_length(get(o, "arrays")), 4);
    cr_expect_float_eq(json_object_get_double(get(o, "peak_macs_per_s")), 61603840000000.0, 1.0);
    get(get(o, "provenance"), "multipliers");
    json_object_put(o);
    free(out), free(err), free(topo);
}

Test(cli_ppa, approximate_assignment_saves_against_exact)
{
    char *topo = repo_file("models/topologies/resnet50.csv"), *chip = fixture("chip_small.json");
    char *dir = ax_test_tmpdir(), *assign = ax_test_path(dir, "a.json");
    /* every layer of ResNet-50 on array X (trunc k=6) except conv1 and fc on E */
    ax_topology *t;
    ax_error e;
    cr_assert_eq(ax_topology_load(topo, &t, &e), 0, "%s", e.msg);
    size_t cap = 64 * t->n_layers + 256, len = 0;
    char *text = malloc(cap);
    len += (size_t)snprintf(
        text, cap, "{\"version\": 1, \"arrays\": {\"E\": \"exact-s8\", \"X\": \"trunc-s8:k=6\"},\n\"layers\": {");
    for (size_t i = 0; i < t->n_layers; i++)
        len += (size_t)snprintf(text + len, cap - len, "%s\"%s\": \"%s\"", i ? ",\n" : "", t->layers[i].name,
                                i == 0 || i + 1 == t->n_layers ? "E" : "X");
    len += (size_t)snprintf(text + len, cap - len, "}}\n");
    cr_assert_eq(ax_test_write(assign, text, len), 0);
    char *out, *err;
    cr_assert_eq(
        run(&out, &err,
            (const char *[]){"ppa", "--topology", topo, "--chip", chip, "--assign", assign, "--json", "-", NULL}),
        0, "%s", err);
    json_object *o = json_tokener_parse(out);
    cr_assert_not_null(o, "not JSON: %s", out);
    json_object *d = get(o, "delta");
    cr_expect_lt(json_object_get_double(get(d, "area_pct")), 0);
    cr_expect_lt(json_object_get_double(get(d, "power_pct")), 0);
    cr_expect_lt(json_object_get_double(get(d, "energy_pct")), 0);
    json_object *arrays = get(o, "arrays");
    cr_assert_eq(json_object_array_length(arrays), 2);
    cr_expect_str_eq(json_object_get_string(get(json_object_array_get_idx(arrays, 1), "mult")), "trunc-s8:k=6");
    cr_expect_eq(json_object_get_int(get(json_object_array_get_idx(arrays, 0), "layers")), 2);
    json_object_put(o);
    free(out), free(err);
    /* a layer on an array the chip lacks */
    const char *lack = "{\"version\": 1, \"arrays\": {\"Z\": \"exact-s8\"}, \"layers\": {\"conv1\": \"Z\"}}";
    cr_assert_eq(ax_test_write(assign, lack, strlen(lack)), 0);
    cr_expect_eq(run(&out, &err, (const char *[]){"ppa", "--topology", topo, "--chip", chip, "--assign", assign, NULL}),
                 1);
    cr_expect(strstr(err, "'Z' is not on the chip") != NULL, "%s", err);
    cr_expect_eq(strchr(err, '\n'), err + strlen(err) - 1, "one line: %s", err);
    free(out), free(err);
    free(text), free(topo), free(chip), free(assign);
    ax_topology_free(t);
    ax_test_rmtree(dir);
    free(dir);
}

Test(cli_ppa, failures_name_their_input)
{
    char *topo = repo_file("models/topologies/resnet50.csv");
    char *dir = ax_test_tmpdir(), *chip = ax_test_path(dir, "chip.json"), *js = ax_test_path(dir, "out.json");
    const char *text = "{\n  \"freq_mhz\": 940,\n  \"cores\": \"two\"\n}\n";
    cr_assert_eq(ax_test_write(chip, text, strlen(text)), 0);
    char *out, *err, want[4200];
    cr_expect_eq(run(&out, &err, (const char *[]){"ppa", "--topology", topo, "--chip", chip, "--json", js, NULL}), 1);
    snprintf(want, sizeof want, "%s:3:", chip);
    cr_expect(strstr(err, want) != NULL, "%s", err);
    cr_expect_eq(strchr(err, '\n'), err + strlen(err) - 1, "one line: %s", err);
    cr_expect_neq(access(js, F_OK), 0, "no JSON after a failure");
    free(out), free(err);
    cr_expect_eq(run(&out, &err, (const char *[]){"ppa", "--model", "m.onnx", NULL}), 1);
    cr_expect(strstr(err, "m.onnx: cannot open") != NULL, "%s", err);
    free(out), free(err);
    cr_expect_eq(run(&out, &err, (const char *[]){"ppa", "--topology", topo, "--batch", "0", NULL}), 2);
    free(out), free(err);
    cr_expect_eq(run(&out, &err, (const char *[]){"ppa", "--topology", topo, "--frobnicate", NULL}), 2);
    free(out), free(err);
    free(topo), free(chip), free(js);
    ax_test_rmtree(dir);
    free(dir);
}

Test(cli_ppa, assignment_specs_resolve_next_to_the_assignment)
{
    char *dir = ax_test_tmpdir(), *axm = ax_test_path(dir, "t6.axm"), *assign = ax_test_path(dir, "a.json");
    char *topo = fixture("gemm.csv");
    char *out, *err;
    cr_assert_eq(run(&out, &err, (const char *[]){"mult", "gen", "trunc-s8:k=6", "-o", axm, NULL}), 0, "%s", err);
    free(out), free(err);
    const char *text =
        "{\"version\": 1, \"arrays\": {\"A0\": \"t6.axm\"}, \"layers\": {\"g1\": \"A0\", \"g2\": \"A0\"}}";
    cr_assert_eq(ax_test_write(assign, text, strlen(text)), 0);
    cr_assert_eq(run(&out, &err, (const char *[]){"ppa", "--topology", topo, "--assign", assign, "--json", "-", NULL}),
                 0, "%s", err);
    json_object *o = json_tokener_parse(out);
    cr_assert_not_null(o, "not JSON: %s", out);
    json_object *a0 = json_object_array_get_idx(get(o, "arrays"), 0);
    cr_expect_str_eq(json_object_get_string(get(a0, "mult")), "trunc-s8:k=6");
    cr_expect(strstr(json_object_get_string(get(a0, "mult_figures")), "43/64") != NULL);
    cr_expect_lt(json_object_get_double(get(get(o, "delta"), "power_pct")), 0);
    json_object_put(o);
    free(out), free(err);
    free(axm), free(assign), free(topo);
    ax_test_rmtree(dir);
    free(dir);
}

Test(cli_ppa, evoapprox_assignment_uses_published_figures)
{
    const char *dir = getenv("AX_EVOAPPROX_DIR");
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/mul8s_1L2J.bin.gz", dir ? dir : "");
    if (!dir || access(probe, R_OK) != 0) {
        cr_skip_test("EvoApproxLib reference folder not found (set AX_EVOAPPROX_DIR): skipping");
        return;
    }
    char *topo = repo_file("models/topologies/resnet50.csv"), *assign = fixture("resnet50_mixed.json");
    char *out, *err;
    cr_assert_eq(run(&out, &err, (const char *[]){"ppa", "--topology", topo, "--assign", assign, "--json", "-", NULL}),
                 0, "%s", err);
    json_object *o = json_tokener_parse(out);
    cr_assert_not_null(o, "not JSON: %s", out);
    json_object *a1 = json_object_array_get_idx(get(o, "arrays"), 1);
    cr_expect_str_eq(json_object_get_string(get(a1, "mult")), "mul8s_1L2J");
    /* manifest: 0.301 mW / 0.425 mW and 558.9 / 729.8 um^2 of the exact signed multiplier */
    cr_expect_float_eq(json_object_get_double(get(a1, "mult_rel_power")), 0.301 / 0.425, 1e-9);
    cr_expect_float_eq(json_object_get_double(get(a1, "mult_rel_area")), 558.9 / 729.8, 1e-9);
    cr_expect_lt(json_object_get_double(get(get(o, "delta"), "area_pct")), 0);
    cr_expect_eq(json_object_array_length(get(get(o, "provenance"), "multipliers")), 4);
    json_object_put(o);
    free(out), free(err), free(topo), free(assign);
}

Test(cli_ppa, malformed_assignment_and_config)
{
    char *topo = fixture("gemm.csv"), *os = fixture("os.cfg"), *ws = fixture("ws.cfg");
    char *dir = ax_test_tmpdir(), *assign = ax_test_path(dir, "a.json");
    const char *text = "{\n  \"version\": 1,\n  \"arrays\": {\"A0\": \"exact-s8\"},\n  \"layers\": {\n"
                       "    \"g1\": \"A0\",\n    \"g2\": \"A5\"\n  }\n}\n";
    cr_assert_eq(ax_test_write(assign, text, strlen(text)), 0);
    char *out, *err, want[4200];
    cr_expect_eq(run(&out, &err, (const char *[]){"ppa", "--topology", topo, "--assign", assign, NULL}), 1);
    snprintf(want, sizeof want, "%s:6:", assign);
    cr_expect(strstr(err, want) != NULL && strstr(err, "A5") != NULL, "%s", err);
    cr_expect_eq(strchr(err, '\n'), err + strlen(err) - 1, "one line: %s", err);
    free(out), free(err);
    cr_expect_eq(run(&out, &err, (const char *[]){"ppa", "--topology", topo, "--config", os, NULL}), 1);
    cr_expect(strstr(err, "os.cfg:13:") != NULL && strstr(err, "only weight-stationary") != NULL, "%s", err);
    free(out), free(err);
    cr_assert_eq(run(&out, &err, (const char *[]){"ppa", "--topology", topo, "--config", ws, "--batch", "4", "--json",
                                                  "-", NULL}), 0, "%s", err);
    json_object *o = json_tokener_parse(out);
    cr_assert_not_null(o, "not JSON: %s", out);
    json_object *a0 = json_object_array_get_idx(get(o, "arrays"), 0);
    cr_expect_eq(json_object_get_int(get(a0, "rows")), 32);
    cr_expect_eq(json_object_get_int(get(a0, "cols")), 16);
    cr_expect_eq(json_object_get_int(get(o, "batch")), 4);
    cr_expect_float_eq(json_object_get_double(get(o, "peak_macs_per_s")), 4.0 * 32 * 16 * 940e6, 1.0);
    json_object_put(o);
    free(out), free(err);
    free(topo), free(os), free(ws), free(assign);
    ax_test_rmtree(dir);
    free(dir);
}

Test(cli_systolic, batch_multiplies_the_streamed_rows)
{
    char *topo = fixture("gemm.csv");
    char *out, *err;
    cr_assert_eq(run(&out, &err, (const char *[]){"systolic", "--topology", topo, "--batch", "3", "--json", "-", NULL}),
                 0, "%s", err);
    json_object *o = json_tokener_parse(out);
    cr_assert_not_null(o, "not JSON: %s", out);
    json_object *l0 = json_object_array_get_idx(get(o, "layers"), 0);
    cr_expect_eq(json_object_get_int64(get(l0, "M")), 3 * 64);
    cr_expect_eq(json_object_get_int64(get(l0, "cycles")), 3 * (256 + 128 + 192 - 2));
    json_object_put(o);
    free(out), free(err), free(topo);
}

/* The shipped model's layers as the runtime runs them: M per image is the
 * output pixel count (28x28 after a padded 3x3 conv; 1 for an FC layer). */
Test(cli_systolic, model_layers_come_from_the_network)
{
    char *model = repo_file("models/fashion_cnn.onnx");
    char *out, *err;
    cr_assert_eq(run(&out, &err, (const char *[]){"systolic", "--model", model, "--json", "-", NULL}), 0, "%s", err);
    json_object *o = json_tokener_parse(out);
    cr_assert_not_null(o);
    json_object *ls = get(o, "layers");
    cr_assert_eq(json_object_array_length(ls), 6);
    json_object *c1 = json_object_array_get_idx(ls, 0), *dw = json_object_array_get_idx(ls, 2),
                *fc1 = json_object_array_get_idx(ls, 4);
    cr_expect_eq(json_object_get_int(get(c1, "M")), 784);
    cr_expect_eq(json_object_get_int(get(c1, "K")), 9);
    cr_expect_eq(json_object_get_int(get(c1, "N")), 16);
    cr_expect_eq(json_object_get_int(get(dw, "groups")), 32, "depthwise");
    cr_expect_eq(json_object_get_int(get(dw, "M")), 196);
    cr_expect_eq(json_object_get_int(get(fc1, "M")), 1);
    cr_expect_eq(json_object_get_int(get(fc1, "K")), 1568);
    cr_expect_eq(json_object_get_int(get(fc1, "N")), 64);
    json_object_put(o);
    free(out), free(err);
    cr_expect_eq(run(&out, &err, (const char *[]){"ppa", "--model", model, "--json", "-", NULL}), 0, "%s", err);
    o = json_tokener_parse(out);
    cr_assert_not_null(o);
    cr_expect_eq(json_object_array_length(get(o, "layers")), 6);
    cr_expect_gt(json_object_get_double(get(get(o, "chip"), "power_w")), 0);
    json_object_put(o);
    free(out), free(err), free(model);
}
