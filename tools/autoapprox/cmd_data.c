/* cmd_data.c - `autoapprox data export`: a data set as the model sees it,
 * preprocessed, into a NumPy float32 N x C x H x W file (dataset order), so
 * anyone can compare it with their own pipeline (docs/data.md). */
#include "cli.h"

#include "autoapprox/data.h"
#include "lut/ax_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char data_usage[] =
    "usage: autoapprox data export --data D [--labels F] [--synsets F] [--split test|train]\n"
    "                              [--limit N] [--preprocess imagenet|none] [--labels-out L.npy]\n"
    "                              -o OUT.npy\n"
    "\n"
    "Writes the preprocessed images of a data set as float32 N x C x H x W (.npy),\n"
    "in dataset order: ImageFolder = sorted class folders, sorted files within;\n"
    "a flat folder = sorted files; IDX = file order. Unreadable images are\n"
    "reported, skipped and counted (docs/data.md).\n"
    "\n"
    "  --data D          IDX folder, folder of class sub-folders of JPEGs, or a flat\n"
    "                    folder of JPEGs with --labels\n"
    "  --labels F        flat folder: 'file,label' lines (CSV), or one label per line\n"
    "                    in sorted file order (ILSVRC ground truth); label = class\n"
    "                    index or synset\n"
    "  --synsets F       synset mapping, 'nXXXXXXXX description' per line; class = line\n"
    "  --split S         IDX only: test (default) or train\n"
    "  --limit N         only the first N items\n"
    "  --preprocess P    imagenet (resize 256, crop 224, ImageNet mean/std; default for\n"
    "                    photographs) or none (pixels / 255; default for IDX)\n"
    "  --labels-out L    also write the labels of the exported images (int64 .npy)\n"
    "  -o OUT.npy        output, written whole or not at all\n";

typedef struct export_opts {
    const char *data, *labels, *synsets, *split, *preprocess, *labels_out, *out;
    int64_t limit;
} export_opts;

/* A .npy v1.0 header of exactly 256 bytes, so the count can be rewritten. */
#define NPY_HEADER 256
static void npy_header(char *h, const char *descr, size_t n, const size_t *dims, int nd)
{
    char shape[160];
    int k = snprintf(shape, sizeof shape, "%zu,", n);
    for (int i = 0; i < nd; i++) k += snprintf(shape + k, sizeof shape - (size_t)k, " %zu,", dims[i]);
    if (nd > 0) shape[k - 1] = 0; /* (N, C, H, W) without a trailing comma */
    memset(h, ' ', NPY_HEADER);
    memcpy(h, "\x93NUMPY\x01\x00", 8);
    h[8] = (char)((NPY_HEADER - 10) & 0xff), h[9] = (char)((NPY_HEADER - 10) >> 8);
    int m = snprintf(h + 10, NPY_HEADER - 10, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr,
                     shape);
    h[10 + m] = ' ';
    h[NPY_HEADER - 1] = '\n';
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int write_labels(const char *path, const int64_t *lb, size_t n)
{
    size_t len = NPY_HEADER + n * 8;
    char *b = malloc(len);
    if (!b) return cli_fail(AX_EXIT_FAIL, "%s: out of memory", path);
    npy_header(b, "<i8", n, NULL, 0);
    memcpy(b + NPY_HEADER, lb, n * 8); /* x86-64 and aarch64 are little-endian */
    ax_error err;
    int rc = ax_write_file_atomic(path, b, len, &err);
    free(b);
    return rc ? cli_fail(AX_EXIT_FAIL, "%s", err.msg) : 0;
}

typedef struct export_state {
    size_t done, skipped, n;
    double load_seconds; /* decoding and preprocessing, without the writes */
    int64_t *labels;
    char **skipped_names;
} export_state;

/* Streams every item to f (header first, count fixed at the end). */
static int stream(const ax_source *s, FILE *f, export_state *st)
{
    size_t h, w, c;
    ax_source_shape(s, &h, &w, &c);
    size_t dims[3] = {c, h, w}, px = h * w;
    char hdr[NPY_HEADER];
    npy_header(hdr, "<f4", st->n, dims, 3);
    if (fwrite(hdr, 1, NPY_HEADER, f) != NPY_HEADER) return -1;
    float *nhwc = malloc(px * c * sizeof *nhwc), *chw = malloc(px * c * sizeof *chw);
    if (!nhwc || !chw) {
        free(nhwc), free(chw);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < st->n; i++) {
        ax_error err;
        double t0 = now();
        int r = ax_source_load(s, i, nhwc, &err);
        st->load_seconds += now() - t0;
        if (r == AX_SOURCE_BAD_ITEM) {
            cli_warn("skipped: %s", err.msg);
            st->skipped_names[st->skipped++] = strdup(ax_source_item_name(s, i));
            continue;
        }
        if (r != 0) {
            rc = cli_fail(AX_EXIT_FAIL, "%s", err.msg);
            break;
        }
        for (size_t p = 0; p < px; p++)
            for (size_t ch = 0; ch < c; ch++) chw[ch * px + p] = nhwc[p * c + ch];
        if (fwrite(chw, sizeof *chw, px * c, f) != px * c) rc = -1;
        st->labels[st->done++] = (int64_t)ax_source_label(s, i);
    }
    free(nhwc), free(chw);
    if (rc == 0) {
        npy_header(hdr, "<f4", st->done, dims, 3);
        if (fseek(f, 0, SEEK_SET) != 0 || fwrite(hdr, 1, NPY_HEADER, f) != NPY_HEADER) rc = -1;
    }
    return rc;
}

static int export_run(const export_opts *o)
{
    ax_source_options so;
    ax_source_options_init(&so);
    so.labels = o->labels, so.synsets = o->synsets;
    if (o->split) so.split = o->split;
    if (ax_preprocess_parse(o->preprocess ? o->preprocess : "imagenet", &so.pp) != 0)
        return cli_fail(AX_EXIT_USAGE, "--preprocess '%s': expected imagenet or none", o->preprocess);
    ax_source *s;
    ax_error err;
    if (ax_source_open(o->data, &so, &s, &err) != 0) return cli_fail(AX_EXIT_FAIL, "%s", err.msg);
    if (!o->preprocess && !strcmp(ax_source_kind(s), "idx")) { /* IDX pixels: / 255 only */
        ax_source_close(s);
        ax_preprocess_none(&so.pp);
        if (ax_source_open(o->data, &so, &s, &err) != 0) return cli_fail(AX_EXIT_FAIL, "%s", err.msg);
    }
    export_state st = {0};
    st.n = ax_source_count(s);
    if (o->limit > 0 && (size_t)o->limit < st.n) st.n = (size_t)o->limit;
    st.labels = malloc(st.n * sizeof *st.labels);
    st.skipped_names = calloc(st.n, sizeof *st.skipped_names);
    size_t tl = strlen(o->out) + 16;
    char *tmp = malloc(tl);
    int rc = AX_EXIT_FAIL, fd = -1;
    FILE *f = NULL;
    if (!st.labels || !st.skipped_names || !tmp) {
        cli_fail(AX_EXIT_FAIL, "out of memory");
        goto done;
    }
    snprintf(tmp, tl, "%s.tmp.XXXXXX", o->out);
    if ((fd = mkstemp(tmp)) < 0 || !(f = fdopen(fd, "wb"))) {
        cli_fail(AX_EXIT_FAIL, "%s: cannot write (%s)", o->out, strerror(errno));
        if (fd >= 0) close(fd), unlink(tmp);
        goto done;
    }
    int sr = stream(s, f, &st);
    if (sr == -1) cli_fail(AX_EXIT_FAIL, "%s: write failed (%s)", o->out, strerror(errno));
    int cr = fflush(f) != 0 || fsync(fileno(f)) != 0;
    cr |= fclose(f) != 0;
    if (sr == 0 && cr) cli_fail(AX_EXIT_FAIL, "%s: write failed (%s)", o->out, strerror(errno));
    if (sr == 0 && !cr && st.done == 0)
        cli_fail(AX_EXIT_FAIL, "%s: none of its %zu images could be read; %s not written", o->data, st.n, o->out);
    else if (sr == 0 && !cr && (!o->labels_out || write_labels(o->labels_out, st.labels, st.done) == 0)) {
        if (rename(tmp, o->out) != 0) cli_fail(AX_EXIT_FAIL, "%s: cannot write (%s)", o->out, strerror(errno));
        else rc = AX_EXIT_OK;
    }
    if (rc != AX_EXIT_OK) unlink(tmp);
    else {
        size_t h, w, c;
        ax_source_shape(s, &h, &w, &c);
        printf("exported %zu of %zu images of %s (%s, %zu classes) to %s: float32 %zu x %zu x %zu x %zu\n", st.done,
               st.n, o->data, ax_source_kind(s), ax_source_num_classes(s), o->out, st.done, c, h, w);
        printf("decode and preprocess: %.1f images/s (one thread, writing excluded)\n",
               st.load_seconds > 0 ? (double)st.n / st.load_seconds : 0.0);
        if (st.skipped) {
            printf("skipped %zu unreadable images:\n", st.skipped);
            for (size_t i = 0; i < st.skipped; i++) printf("  %s\n", st.skipped_names[i] ? st.skipped_names[i] : "?");
        }
    }
done:
    for (size_t i = 0; st.skipped_names && i < st.skipped; i++) free(st.skipped_names[i]);
    free(st.skipped_names), free(st.labels), free(tmp);
    ax_source_close(s);
    return rc;
}

int cmd_data(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(data_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? AX_EXIT_USAGE : AX_EXIT_OK;
    }
    if (strcmp(argv[1], "export") != 0)
        return cli_fail(AX_EXIT_USAGE, "data: unknown subcommand '%s' (autoapprox data --help)", argv[1]);
    export_opts o = {0};
    const cli_opt opts[] = {
        {"--data", &o.data, NULL, 0, 0, NULL},         {"--labels", &o.labels, NULL, 0, 0, NULL},
        {"--synsets", &o.synsets, NULL, 0, 0, NULL},   {"--split", &o.split, NULL, 0, 0, NULL},
        {"--preprocess", &o.preprocess, NULL, 0, 0, NULL}, {"--labels-out", &o.labels_out, NULL, 0, 0, NULL},
        {"-o", &o.out, NULL, 0, 0, NULL},              {"--limit", NULL, &o.limit, 1, INT64_MAX, NULL},
    };
    int rc = cli_parse_options("data export", argc - 1, argv + 1, opts, sizeof opts / sizeof *opts, NULL, 0, NULL);
    if (rc == 1) {
        fputs(data_usage, stdout);
        return AX_EXIT_OK;
    }
    if (rc != 0) return rc;
    if (!o.data) return cli_fail(AX_EXIT_USAGE, "data export: --data D is required");
    if (!o.out) return cli_fail(AX_EXIT_USAGE, "data export: -o OUT.npy is required");
    if (o.split && strcmp(o.split, "test") && strcmp(o.split, "train"))
        return cli_fail(AX_EXIT_USAGE, "--split '%s': expected test or train", o.split);
    return export_run(&o);
}
