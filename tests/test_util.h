/* test_util.h - what every Criterion suite shares: temp folders, fixtures,
 * running the CLI, and knowing whether sizes are reduced (sanitizers). */
#ifndef AX_TEST_UTIL_H
#define AX_TEST_UTIL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A fresh folder under $TMPDIR for this test; removed by the caller via
 * ax_test_rmtree (or left for inspection when a test fails). */
char *ax_test_tmpdir(void);
void ax_test_rmtree(const char *dir);
/* path = dir + "/" + name; caller frees. */
char *ax_test_path(const char *dir, const char *name);
int ax_test_write(const char *path, const void *data, size_t len);
bool ax_test_reduced(void);
/* Runs the autoapprox CLI with argv (NULL-terminated, without argv[0]); stdout and
 * stderr captured into malloc'ed strings (may pass NULL). Returns the exit code. */
int ax_test_cli(char **out, char **errout, const char *const *argv);
/* A u8 x u8 table folded as the network runtime folds it under s8 tensors
 * (nn/layer_q.c): F[x][v] = T[x ^ 0x80][v ^ 0x80] - 128 * (x ^ 0x80), s8 x
 * s8, named "folded-" + T's name; T is freed. */
struct ax_mult;
struct ax_mult *ax_test_fold_u8(struct ax_mult *t);
/* u8 x u8: a*w + (a >> 7) * (w*w / 4), an error term whose weight factor
 * spans 16,257 values, as mul8u_17C8_v1.1's or 13QR's wide terms: no byte
 * form as found, a byte form of three terms when split. */
struct ax_mult *ax_test_wide_error_u8(void);
#endif
