/* fuzz_labels.c - libFuzzer target for the labels and synset parsers of
 * data/labels.c. The input is "SYNSETS\0LABELS": the mapping is parsed, then
 * the labels are applied (with the mapping when it parsed, else without) to
 * a listing of four files, two of them sharing a name without extension. */
#include "data/data_internal.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = fuzz_copy(data, size);
    if (!buf) return 0;
    const uint8_t *nul = memchr(buf, 0, size);
    size_t syn_len = nul ? (size_t)(nul - buf) : 0;
    const char *labels = (const char *)buf + (nul ? syn_len + 1 : 0);
    size_t labels_len = size - (nul ? syn_len + 1 : 0);
    ax_error err;
    ax_synsets syn;
    int have_syn = nul && ax_synsets_parse((const char *)buf, syn_len, "fuzz.syn", &syn, &err) == 0;
    static const char *const names[] = {"d/a.JPEG", "d/b.jpg", "d/b.jpeg", "d/ILSVRC2012_val_00000001.JPEG"};
    ax_listing l = {0};
    l.count = l.cap = 4;
    l.paths = calloc(4, sizeof *l.paths);
    l.labels = calloc(4, sizeof *l.labels);
    for (size_t i = 0; l.paths && i < 4; i++) l.paths[i] = strdup(names[i]);
    if (l.paths && l.labels) ax_labels_apply(labels, labels_len, "fuzz.labels", have_syn ? &syn : NULL, &l, &err);
    ax_listing_free(&l);
    if (have_syn) ax_synsets_free(&syn);
    free(buf);
    return 0;
}
