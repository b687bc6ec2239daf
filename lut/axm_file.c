/* axm_file.c - the .axm multiplier file: one table, its operand types, name,
 * provenance and hardware figures, protected by a CRC-32.
 *
 * Layout (all integers little-endian):
 *   0   8   magic "\x89AXM\r\n\x1a\n" (PNG-style: catches text-mode mangling)
 *   8   4   format version, 1
 *   12  4   metadata length L, at most AXM_META_MAX
 *   16  L   metadata: UTF-8 "key=value\n" lines; keys name, activation, weight
 *           required; provenance, power_mw, area_um2, delay_ns, node optional;
 *           unknown keys are kept for newer writers and ignored
 *   16+L    65536 int32, table[a*256 + w]
 *   end-4   CRC-32 (zlib) of every byte before it
 * docs/axm-format.md is the user-facing description of the same layout. */
#include "ax_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define AXM_MAGIC "\x89" "AXM\r\n\x1a\n"
#define AXM_VERSION 1u
#define AXM_HEADER 16u
#define AXM_META_MAX 16384u
#define AXM_TABLE_BYTES (4u * AX_TABLE_SIZE)

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool has_newline(const char *s) { return strpbrk(s, "\n\r") != NULL; }

/* Appends "key=value\n"; returns false when it would not fit. */
static bool meta_add(char *meta, size_t *len, const char *key, const char *value)
{
    int n = snprintf(meta + *len, AXM_META_MAX - *len, "%s=%s\n", key, value);
    if (n < 0 || (size_t)n >= AXM_META_MAX - *len) return false;
    *len += (size_t)n;
    return true;
}

static bool meta_add_figure(char *meta, size_t *len, const char *key, double v)
{
    if (isnan(v)) return true;
    char num[64];
    snprintf(num, sizeof num, "%.17g", v);
    return meta_add(meta, len, key, num);
}

uint8_t *ax_mult_encode_axm(const ax_mult *m, size_t *out_len, ax_error *err)
{
    if (!m->name[0] || has_newline(m->name) || has_newline(m->provenance) || has_newline(m->hw.node)) {
        ax_fail(err, "multiplier '%s': name must be non-empty and no field may hold a line break", m->name);
        return NULL;
    }
    char meta[AXM_META_MAX];
    size_t ml = 0;
    bool ok = meta_add(meta, &ml, "name", m->name) &&
              meta_add(meta, &ml, "activation", ax_operand_name(m->act)) &&
              meta_add(meta, &ml, "weight", ax_operand_name(m->wgt)) &&
              (!m->provenance[0] || meta_add(meta, &ml, "provenance", m->provenance)) &&
              meta_add_figure(meta, &ml, "power_mw", m->hw.power_mw) &&
              meta_add_figure(meta, &ml, "area_um2", m->hw.area_um2) &&
              meta_add_figure(meta, &ml, "delay_ns", m->hw.delay_ns) &&
              (!m->hw.node[0] || meta_add(meta, &ml, "node", m->hw.node));
    if (!ok) {
        ax_fail(err, "multiplier '%s': metadata exceeds %u bytes", m->name, AXM_META_MAX);
        return NULL;
    }
    size_t len = AXM_HEADER + ml + AXM_TABLE_BYTES + 4;
    uint8_t *buf = malloc(len);
    if (!buf) {
        ax_fail(err, "multiplier '%s': out of memory", m->name);
        return NULL;
    }
    memcpy(buf, AXM_MAGIC, 8);
    put_u32(buf + 8, AXM_VERSION);
    put_u32(buf + 12, (uint32_t)ml);
    memcpy(buf + AXM_HEADER, meta, ml);
    uint8_t *t = buf + AXM_HEADER + ml;
    for (size_t i = 0; i < AX_TABLE_SIZE; i++) put_u32(t + 4 * i, (uint32_t)m->table[i]);
    put_u32(buf + len - 4, (uint32_t)crc32(0L, buf, (uInt)(len - 4)));
    *out_len = len;
    return buf;
}

static int parse_figure(const char *what, const char *key, const char *v, double *out, ax_error *err)
{
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end || !isfinite(d) || d < 0)
        return ax_fail(err, "%s: metadata %s='%s' is not a non-negative number", what, key, v);
    *out = d;
    return 0;
}

/* One "key=value" line into m; `seen` bits guard against repeated keys. */
static int apply_meta(ax_mult *m, const char *what, char *line, unsigned *seen, ax_error *err)
{
    static const char *const keys[] = {"name", "activation", "weight", "provenance",
                                       "power_mw", "area_um2", "delay_ns", "node"};
    char *eq = strchr(line, '=');
    if (!eq || eq == line) return ax_fail(err, "%s: malformed metadata line '%.60s'", what, line);
    *eq = 0;
    const char *v = eq + 1;
    for (unsigned k = 0; k < sizeof keys / sizeof *keys; k++) {
        if (strcmp(line, keys[k]) != 0) continue;
        if (*seen & (1u << k)) return ax_fail(err, "%s: metadata key '%s' repeated", what, line);
        *seen |= 1u << k;
        switch (k) {
        case 0:
            if (!*v || strlen(v) >= AX_NAME_MAX || strchr(v, '/'))
                return ax_fail(err, "%s: multiplier name '%.60s' is empty, too long or holds '/'", what, v);
            ax_strlcpy(m->name, v, sizeof m->name);
            return 0;
        case 1:
        case 2:
            if (ax_operand_parse(v, k == 1 ? &m->act : &m->wgt) != 0)
                return ax_fail(err, "%s: %s type '%.20s' is neither s8 nor u8", what, line, v);
            return 0;
        case 3: ax_strlcpy(m->provenance, v, sizeof m->provenance); return 0;
        case 4: return parse_figure(what, line, v, &m->hw.power_mw, err);
        case 5: return parse_figure(what, line, v, &m->hw.area_um2, err);
        case 6: return parse_figure(what, line, v, &m->hw.delay_ns, err);
        default: ax_strlcpy(m->hw.node, v, sizeof m->hw.node); return 0;
        }
    }
    return 0; /* a key from a newer writer */
}

static int decode_meta(ax_mult *m, const char *what, const uint8_t *p, size_t len, ax_error *err)
{
    if (memchr(p, 0, len)) return ax_fail(err, "%s: metadata holds a NUL byte", what);
    if (len == 0 || p[len - 1] != '\n') return ax_fail(err, "%s: metadata does not end with a line break", what);
    char *text = malloc(len + 1);
    if (!text) return ax_fail(err, "%s: out of memory", what);
    memcpy(text, p, len);
    text[len] = 0;
    unsigned seen = 0;
    int rc = 0;
    for (char *line = text, *nl; rc == 0 && (nl = strchr(line, '\n')); line = nl + 1) {
        *nl = 0;
        rc = apply_meta(m, what, line, &seen, err);
    }
    free(text);
    if (rc == 0 && (seen & 7u) != 7u)
        rc = ax_fail(err, "%s: metadata lacks %s", what,
                     !(seen & 1u) ? "the name" : !(seen & 2u) ? "the activation type" : "the weight type");
    return rc;
}

int ax_mult_decode_axm(const uint8_t *buf, size_t len, const char *what, ax_mult **out, ax_error *err)
{
    *out = NULL;
    if (len >= 8 && memcmp(buf, AXM_MAGIC, 8) != 0)
        return ax_fail(err, "%s: not an .axm file (wrong magic)", what);
    if (len < AXM_HEADER + 4)
        return ax_fail(err, "%s: truncated .axm file (%zu bytes, header alone needs %u)", what, len, AXM_HEADER + 4);
    uint32_t version = get_u32(buf + 8), ml = get_u32(buf + 12);
    if (version != AXM_VERSION)
        return ax_fail(err, "%s: unknown .axm version %u (this build reads version %u)", what, version, AXM_VERSION);
    if (ml > AXM_META_MAX)
        return ax_fail(err, "%s: metadata length %u exceeds the limit of %u bytes", what, ml, AXM_META_MAX);
    size_t want = AXM_HEADER + ml + AXM_TABLE_BYTES + 4;
    if (len < want) return ax_fail(err, "%s: truncated .axm file (%zu of %zu bytes)", what, len, want);
    if (len > want)
        return ax_fail(err, "%s: oversized .axm file (%zu bytes, %zu expected)", what, len, want);
    if (get_u32(buf + len - 4) != (uint32_t)crc32(0L, buf, (uInt)(len - 4)))
        return ax_fail(err, "%s: checksum mismatch: the file is corrupt", what);
    ax_mult *m = ax_mult_new();
    if (!m) return ax_fail(err, "%s: out of memory", what);
    if (decode_meta(m, what, buf + AXM_HEADER, ml, err) != 0) {
        ax_mult_free(m);
        return -1;
    }
    const uint8_t *t = buf + AXM_HEADER + ml;
    for (size_t i = 0; i < AX_TABLE_SIZE; i++) m->table[i] = (int32_t)get_u32(t + 4 * i);
    *out = m;
    return 0;
}

int ax_mult_save(const ax_mult *m, const char *path, ax_error *err)
{
    size_t len;
    uint8_t *buf = ax_mult_encode_axm(m, &len, err);
    if (!buf) return -1;
    int rc = ax_write_file_atomic(path, buf, len, err);
    free(buf);
    return rc;
}

int ax_mult_load(const char *path, ax_mult **out, ax_error *err)
{
    uint8_t *buf;
    size_t len;
    *out = NULL;
    /* Anything beyond header + limits + table is oversized; read one byte more to say so. */
    if (ax_read_file(path, AXM_HEADER + AXM_META_MAX + AXM_TABLE_BYTES + 4, &buf, &len, err) != 0) return -1;
    int rc = ax_mult_decode_axm(buf, len, path, out, err);
    free(buf);
    return rc;
}
