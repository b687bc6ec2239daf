/* hash.c - SHA-256 (Nettle) of files and tables, for provenance: what a
 * result was computed from, checkable by anyone with sha256sum. */
#include "ax_internal.h"

#include <nettle/sha2.h>
#include <stdio.h>

void ax_mult_table_sha256(const ax_mult *m, char hex_out[65])
{
    uint8_t le[4 * AX_TABLE_SIZE];
    for (size_t i = 0; i < AX_TABLE_SIZE; i++) {
        uint32_t v = (uint32_t)m->table[i];
        le[4 * i] = (uint8_t)v;
        le[4 * i + 1] = (uint8_t)(v >> 8);
        le[4 * i + 2] = (uint8_t)(v >> 16);
        le[4 * i + 3] = (uint8_t)(v >> 24);
    }
    ax_sha256_hex(le, sizeof le, hex_out);
}

void ax_sha256_hex(const void *data, size_t len, char hex_out[65])
{
    struct sha256_ctx ctx;
    uint8_t digest[SHA256_DIGEST_SIZE];
    sha256_init(&ctx);
    sha256_update(&ctx, len, data);
    sha256_digest(&ctx, sizeof digest, digest);
    for (int i = 0; i < SHA256_DIGEST_SIZE; i++) snprintf(hex_out + 2 * i, 3, "%02x", digest[i]);
}
