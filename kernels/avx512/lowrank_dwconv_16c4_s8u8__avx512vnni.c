/* lowrank_dwconv_16c4_s8u8__avx512vnni.c - the depthwise byte kernel for
 * forms with their signs swapped (lr->acts_s8, ax_lowrank_swap_signs:
 * activation factors s8, weight factors u8, vpdpbusd's operands the other
 * way round, no row corrections): a*w with u8 weights takes the row pairs
 * (pair_s1, pair_s2) where its row corrections kept it on row_any. The
 * same source as lowrank_dwconv_16c4__avx512vnni.c, compiled with
 * AX_DWLR_S8U8. */
#define AX_DWLR_S8U8 1
#include "kernels/avx512/lowrank_dwconv_16c4__avx512vnni.c"
