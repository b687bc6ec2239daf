/* test_conv.c - ax_conv2d on every (ISA, path) this machine supports against
 * ax_conv2d_reference, bit for bit: 1x1 in place, 3x3 with padding (pad byte
 * = a non-zero zero point), stride, dilation, groups, depthwise, batch > 1,
 * LOWRANK plans where the table has that form (drum),
 * accumulate, 1, 2 and 3 threads, weights packed for batch 1 or the run's
 * batch and run on any batch; the accumulator bound (K at the bound exact,
 * K + 1 refused) on dense, grouped and depthwise layers; plus shape errors. */
#include <criterion/criterion.h>

#include "autoapprox/gemm.h"
#include "test_util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

typedef struct ccase {
    size_t b, h, w, c, o, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, g;
} ccase;

static const ccase CASES[] = {
    /* b  h   w   c   o  kh kw sh sw dh dw pt pl pb pr g */
    {1, 5, 7, 3, 4, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},     /* 1x1 in place */
    {2, 9, 8, 16, 70, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 2},   /* grouped 1x1 */
    {1, 7, 7, 5, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},     /* same padding */
    {2, 11, 10, 4, 9, 3, 3, 2, 2, 1, 1, 1, 1, 0, 0, 1},   /* stride 2, asymmetric pad */
    {1, 12, 13, 6, 6, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 3},   /* dilation, groups */
    {1, 9, 9, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 8},     /* depthwise */
    {2, 9, 10, 8, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 8},    /* depthwise, stride 2 */
    {1, 5, 70, 3, 3, 3, 3, 1, 1, 1, 1, 0, 1, 2, 1, 3},    /* depthwise, rows > 64 pixels */
    {1, 10, 6, 4, 8, 5, 2, 3, 1, 1, 1, 2, 0, 2, 1, 4},    /* depthwise x2, odd kernel */
    {3, 20, 20, 3, 33, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3, 1},  /* stem-like, K = 147 */
    {1, 6, 6, 64, 17, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},   /* K = 576 > 256 */
    {2, 40, 37, 20, 20, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 20}, /* depthwise: 16 + 4 channels, row chunks */
    {1, 23, 29, 18, 18, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 18}, /* depthwise, stride 2, odd sizes */
    {1, 12, 12, 8, 8, 9, 9, 1, 1, 1, 1, 4, 4, 4, 4, 2},   /* 4 channels per group: 324 taps > 256 */
    {2, 5, 4, 64, 32, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},   /* 1x1, N <= 2K: oneDNN's s8 source first */
    {1, 7, 6, 32, 136, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 1},  /* 1x1 stride 2, N > 2K: extra channels first */
    {1, 17, 16, 6, 12, 3, 3, 3, 2, 2, 1, 2, 0, 1, 3, 6},  /* stride 3x2, dilation 2x1, multiplier 2 */
    {1, 2, 600, 2, 2, 1, 3, 1, 1, 1, 1, 0, 1, 0, 1, 2},   /* depthwise, rows wider than a task */
    {2, 13, 11, 40, 40, 5, 3, 2, 1, 1, 2, 2, 3, 1, 2, 40}, /* depthwise 5x3: two groups of kernel rows, 16+16+8 */
    {1, 9, 8, 17, 17, 7, 1, 1, 3, 2, 1, 5, 0, 6, 0, 17},  /* depthwise 7x1, dilation 2, stride 1x3 */
    {1, 6, 7, 33, 33, 4, 4, 1, 1, 1, 1, 0, 0, 0, 0, 33},  /* depthwise 4x4 unpadded: one full group */
    {1, 4, 150, 32, 32, 3, 3, 1, 2, 1, 1, 1, 1, 1, 1, 32}, /* depthwise, phase runs of 64+ pixels (layout blocks) */
    {3, 1, 1, 150, 300, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1}, /* FC as 1x1 on 1x1: M = 3, the transposed GEMM */
    {2, 3, 3, 40, 260, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 1},   /* 1x1 output, K = 360: transposed via im2col */
    {3, 36, 36, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 64}, /* depthwise: 2 images a task, the last task 1 */
    {1, 130, 130, 20, 20, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 20}, /* depthwise: bands of rows (planes > L2/4) */
    {1, 203, 190, 9, 9, 3, 3, 2, 2, 1, 1, 1, 0, 1, 1, 9},  /* depthwise: bands at stride 2, odd sizes */
    {1, 100, 100, 24, 48, 5, 5, 2, 2, 2, 1, 4, 4, 3, 3, 24}, /* multiplier 2, dilation, bands of rows */
    {2, 41, 129, 80, 80, 3, 3, 2, 2, 1, 1, 1, 0, 1, 1, 80}, /* depthwise s2: 2 bands x 2 channel groups (lists reused) */
    {5, 7, 7, 80, 80, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 80},  /* 7x7 depthwise, stacked images, 5 blocks of 16 */
    {1, 15, 17, 72, 72, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 72}, /* depthwise s2: 64 + 8 channels, odd sizes, a lone last row */
    {2, 10, 9, 144, 144, 3, 3, 2, 2, 1, 1, 0, 1, 1, 0, 144}, /* depthwise s2: 128 + 16 channels, unpadded top, right */
    {1, 11, 12, 70, 70, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 70}, /* depthwise stride 2x1 */
    {4, 10, 12, 24, 24, 3, 3, 2, 2, 1, 1, 1, 2, 2, 1, 24}, /* stacked, stride 2, uneven pads shared, 16 + 8 */
    {3, 8, 6, 20, 20, 3, 3, 1, 1, 2, 2, 2, 1, 1, 2, 20},  /* stacked, dilation 2: reads across shared pads */
    {2, 6, 5, 8, 8, 1, 3, 1, 1, 1, 1, 1, 0, 1, 2, 8},     /* output taller than in_h + max pad: no row sharing */
    /* AVX-512 LOWRANK depthwise at stride 1 (pair_s1: a ring of columns built along the row's byte stream) */
    {2, 7, 9, 32, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 32},  /* 32 channels: two pixels a 64-byte step, a lone row */
    {1, 14, 13, 96, 96, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 96}, /* 96: steps across pixels, inner rows, odd width */
    {1, 11, 10, 16, 16, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 16}, /* 16 channels (16-column ring), unpadded */
    {1, 1, 1, 48, 48, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 48},   /* 1x1 image */
    {3, 2, 2, 160, 160, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 160}, /* 2x2 images, 160 channels */
    {1, 3, 5, 32, 32, 3, 3, 1, 1, 1, 1, 2, 9, 2, 10, 32},  /* more pad columns than ring slots */
    {1, 8, 10, 32, 32, 2, 3, 1, 1, 1, 1, 1, 1, 0, 1, 32},  /* 2x3 kernel, stride 1 */
    {2, 5, 6, 72, 72, 3, 3, 1, 1, 1, 1, 1, 2, 1, 0, 72},   /* 64 + 8 channels: the per-row pair builds */
    /* AVX-512 LOWRANK depthwise at stride 2 (pair_s2): tiny images, pads 0 and 1, pairs whose next pair's rows
     * (prefetched) leave the image */
    {2, 3, 3, 16, 16, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 16},    /* 3x3 images, 16 channels */
    {1, 2, 2, 32, 32, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 32},    /* 2x2 image */
    {3, 1, 1, 48, 48, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 48},    /* 1x1 images */
    {1, 13, 11, 160, 160, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, 160}, /* unpadded, odd sizes, 128 + 32 */
    {2, 11, 13, 96, 96, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 96},  /* 64 + 32, odd sizes, inner pairs near the bottom */
    /* AVX2 depthwise (lut_dwconv_16x1, lowrank_dwconv_16c2): channels past groups of 8 and 16, the 3x3 rows at
     * stride 1 with dilated columns, stride 3 (no pair shared), an even kernel height (both row parities) */
    {1, 11, 9, 12, 12, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 12}, /* 8 + 4 channels, stride 2, odd sizes */
    {2, 7, 6, 5, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 5},     /* 5 channels, small images */
    {1, 9, 13, 16, 16, 3, 3, 1, 1, 1, 2, 1, 2, 1, 2, 16}, /* dilation 1x2 */
    {1, 13, 14, 10, 10, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 10}, /* stride 3 */
    {1, 10, 9, 24, 24, 2, 3, 1, 2, 1, 1, 0, 1, 1, 1, 24}, /* 2x3 kernel */
    /* AVX2 3x3 row tables (lut_dwconv_3x3__avx2): 1x1 and 2x2 images, channel multipliers, stride 1x2 unpadded */
    {2, 1, 1, 24, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 24},  /* 1x1 images */
    {3, 2, 2, 17, 17, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 17},  /* 2x2 images, stride 2 */
    {2, 9, 11, 8, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 8},   /* multiplier 2 */
    {2, 6, 7, 16, 32, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 16},  /* multiplier 2, stride 2 */
    {1, 8, 9, 20, 20, 3, 3, 1, 2, 1, 1, 0, 0, 0, 0, 20},  /* stride 1x2, unpadded */
    /* ... with 2-4 input channels per group (one call per channel, added): ResNeXt layer1-like */
    {2, 12, 14, 12, 12, 3, 3, 1, 2, 1, 1, 1, 1, 1, 1, 6},  /* 2 channels per group, stride 1x2 */
    {3, 11, 9, 48, 96, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 16}, /* 3 channels, multiplier 2, stride 2, stacked */
    {1, 90, 80, 128, 128, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 32}, /* 4 channels, 32 groups, bands of rows */
    /* grouped GEMMs (> 4 channels per group): one im2col row of all groups, the groups' tiles in one job */
    {2, 15, 13, 40, 40, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 5},  /* 8 channels per group, stride 2, padding */
    {1, 9, 11, 64, 96, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4},   /* 16 channels, N = 24 per group */
    {1, 10, 9, 20, 12, 3, 3, 1, 2, 2, 1, 2, 1, 2, 1, 4},   /* 5 channels, N = 3, dilation, stride 1x2 */
    {1, 7, 8, 192, 192, 3, 3, 1, 1, 1, 1, 1, 0, 1, 1, 3},  /* 64 channels per group, K = 576 */
    {1, 20, 20, 256, 256, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 32}, /* ResNeXt-like: 32 groups of 8, two chunks */
    {1, 9, 9, 48, 24, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 6},   /* grouped 1x1 stride 2 (im2col), N = 4 */
    {1, 6, 5, 96, 66, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3},   /* 32 channels per group, N = 22, M = 30 (small M) */
    /* one-term LOWRANK byte forms on AVX-512: the grouped kernel (8 channels: pairs; 16k: single groups) */
    {2, 20, 20, 1024, 128, 1, 3, 1, 1, 1, 1, 0, 1, 0, 1, 128}, /* pairs, N = 1, 1x3; chunks end mid-row, mid-batch */
    {2, 24, 24, 512, 64, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 64},   /* pairs, N = 1, stride 2, two chunks */
    {3, 23, 21, 96, 48, 3, 3, 2, 2, 2, 1, 2, 1, 1, 2, 12},  /* pairs, N = 4, stride 2, dilation 2x1 */
    {2, 11, 9, 80, 40, 3, 3, 1, 2, 1, 1, 0, 1, 2, 1, 5},    /* 16 channels, N = 8 (a part block), stride 1x2 */
    {1, 8, 9, 96, 144, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 2},    /* 48 channels, N = 72, 1x1 in place */
    {1, 9, 8, 48, 30, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2},     /* 24 channels: not the grouped kernel */
    {1, 2, 3, 32, 32, 3, 3, 1, 1, 1, 1, 3, 2, 3, 2, 4},     /* taps mostly in the padding */
    /* the AVX2 grouped kernel (int16 terms, any even number of channels per group; 8: pairs) */
    {3, 9, 10, 12, 18, 3, 3, 2, 2, 2, 1, 2, 1, 1, 2, 2},  /* 6 channels (3 pairs a tap), N = 9, dilation 2x1 */
    {2, 9, 7, 32, 48, 3, 3, 2, 1, 1, 1, 1, 0, 1, 1, 4},   /* pairs, N = 12: a pair of blocks and one alone */
    {1, 6, 9, 20, 20, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2},   /* 10 channels, N = 10 */
    {2, 11, 10, 24, 24, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 6}, /* 4 channels (pairs: 8-byte units), N = 4, stride 2 */
    {1, 9, 8, 12, 6, 3, 3, 1, 1, 1, 1, 1, 0, 1, 1, 3},    /* 4 channels, 3 groups (single), N = 2 */
    {3, 7, 5, 8, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2},    /* 4 channels, pairs, N = 8: in_c 8 (half a 16-byte map) */
    /* 4 channels per group in fours on AVX-512 (groups % 4 == 0; a 16-byte broadcast of four groups' quads) */
    {2, 11, 10, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4},  /* 4 groups, N = 4 (one store a row), lone last rows */
    {3, 9, 7, 32, 24, 3, 3, 2, 2, 1, 1, 1, 0, 1, 1, 8},    /* 8 groups, N = 3 (part blocks), stride 2, uneven pads */
    {1, 13, 12, 48, 96, 3, 3, 1, 2, 1, 1, 0, 1, 2, 1, 12}, /* 12 groups, N = 8 (a block pair), stride 1x2 */
    {2, 7, 9, 16, 80, 3, 3, 2, 1, 2, 1, 2, 1, 1, 0, 4},    /* N = 20 (two pairs, one alone), dilation 2x1 */
    {2, 5, 6, 32, 32, 1, 3, 1, 1, 1, 1, 0, 2, 0, 2, 8},    /* 1x3 kernel, taps in the padding */
    /* ... and in units of 16 groups (4x64g4: lanes are groups) when N = 4 and groups % 16 == 0 */
    {2, 11, 10, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 16},  /* one unit, M = 220: a part tile, chunks' last rows */
    {3, 9, 7, 192, 192, 3, 3, 2, 2, 1, 1, 1, 0, 1, 1, 48},  /* 3 units, stride 2, uneven pads, stacked images */
    {1, 12, 11, 128, 128, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 32}, /* dilation 2 */
    {2, 5, 6, 64, 64, 1, 3, 1, 1, 1, 1, 0, 2, 0, 2, 16},    /* 1x3 kernel (not 3x3's constant taps), pad taps */
    {1, 4, 5, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 16},    /* M = 20: small enough for the sanitizer build */
    /* ... 8 and 16 channels in fours (interleaved quads), 8 in pairs when groups % 4 == 2 */
    {2, 9, 10, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 8},   /* 8 in fours, N = 8 (two stores a row) */
    {1, 7, 9, 96, 60, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 12},   /* 8 in fours, N = 5 (a pair with a part block) */
    {2, 6, 7, 128, 128, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 8},  /* 16 in fours, N = 16 (ResNeXt layer3-like) */
    {1, 8, 7, 64, 128, 3, 3, 2, 1, 1, 1, 1, 1, 0, 1, 4},   /* 16 in fours, N = 32, stride 2x1 */
    {2, 9, 8, 48, 48, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 6},    /* 8 channels, 6 groups: pairs, N = 8 (one store) */
    {1, 10, 9, 48, 72, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 6},   /* pairs, N = 12, stride 2 */
    {1, 30, 30, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2}, /* 8 channels, M = 900: LUT panels of 640 rows (2 sub-panels) + 260 */
    /* s8 x s8 1x1 layers of K <= 256 run our VNNI kernel, not oneDNN's (own_exact): */
    {2, 9, 7, 96, 80, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},  /* M 126: panels of 60, a 6-row tail; 4 + 1 blocks */
    {1, 11, 12, 256, 72, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1}, /* K = 256 (the bound), no prefetch; 8-column tail */
    {1, 13, 9, 257, 40, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1}, /* K = 257: oneDNN again */
    {1, 29, 28, 64, 32, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1}, /* 812 > 28x28 output pixels, N < 2K: oneDNN again */
    {1, 29, 28, 24, 144, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1}, /* 812 pixels, N >= 2K (an expansion layer): ours */
    {2, 13, 13, 130, 64, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 1}, /* 1x1 stride 2 (im2col chunks), K % 4 = 2 */
};

/* Which kernel the layer must run: the oneDNN convolution primitive
 * exactly when the plan's exact path is oneDNN's (verified), the weights
 * s8, the pad byte 0 or no padding, and oneDNN was asked to take every
 * shape (otherwise its cost model may keep depthwise layers on ours); never
 * on an AVX2 plan here (oneDNN runs AVX-512 in this process). */
static int glr_layers, glr4_layers, glr2_layers; /* layers the grouped LOWRANK kernels took (AVX-512: all, 4
                                                     * channels per group; AVX2) */
static int glr16_layers, glr16_s8u8_layers; /* of the AVX-512 ones, those on units of 16 groups (4 channels and 4
                                              * columns a group); of those, with the signs swapped */
static int glr_terms_max; /* the most terms of an AVX-512 plan whose grouped layer took its grouped kernel */
static int split_layers;  /* grouped layers of a linear-base LUT plan run as base (grouped kernel) + residual */
static int s8u8_layers, split_s8_layers; /* of those two, the ones whose form had its signs swapped */

static void check_kernel(const ax_gemm_plan *p, const ax_mult *m, const ax_conv2d_shape *s,
                         const ax_conv2d_weights *cw)
{
    const char *got = ax_conv2d_kernel_name(cw);
    bool dnn = strcmp(got, "exact_conv__onednn") == 0;
    bool padded = s->pad_top || s->pad_left || s->pad_bottom || s->pad_right;
    bool may = strcmp(ax_gemm_plan_kernel_name(p), "exact_gemm__onednn") == 0 && m->wgt == AX_S8 &&
               (!padded || s->pad_byte == 0);
    if (dnn) cr_assert(may, "%s: oneDNN convolution on plan %s (pad byte %d)", m->name, ax_gemm_plan_kernel_name(p),
                       s->pad_byte);
    if (ax_gemm_plan_isa(p) == AX_ISA_AVX2 && !getenv("AX_ISA")) cr_assert(!dnn, "AVX2 plan ran oneDNN's convolution");
    const char *always = getenv("AX_ONEDNN"), *s8 = getenv("AX_ONEDNN_CONV_S8");
    bool all = always && strcmp(always, "always") == 0;
    if (may && all && !(s8 && strcmp(s8, "native") == 0)) /* native may round */
        cr_assert(dnn, "%s: %s plan kept %s for a layer oneDNN must take", m->name, ax_isa_name(ax_gemm_plan_isa(p)),
                  got);
    /* s8 x s8, 1x1 unpadded, K <= 256, <= 28x28 output pixels or N >= 2K: our VNNI kernel (conv2d.c, own_exact) */
    const char *pk = ax_gemm_plan_kernel_name(p); /* oneDNN verified on AVX-512: VNNI (its u8s8 saturates without) */
    bool vnni = strstr(pk, "avx512vnni") || (strcmp(pk, "exact_gemm__onednn") == 0 && ax_gemm_plan_isa(p) == AX_ISA_AVX512);
    bool own = m->act == AX_S8 && m->wgt == AX_S8 && s->kernel_h == 1 && s->kernel_w == 1 && !padded &&
               s->groups == 1 && s->in_c <= 256 && ax_gemm_plan_path(p) == AX_PATH_EXACT && vnni &&
               (((s->in_h - 1) / s->stride_h + 1) * ((s->in_w - 1) / s->stride_w + 1) <= 28 * 28 ||
                s->out_c >= 2 * s->in_c);
    if (own && !all) cr_assert_str_eq(got, "exact_gemm_6x64__avx512vnni", "%s", m->name);
    /* s8-weight depthwise layers of EXACT plans on AVX-512 VNNI: the LOWRANK depthwise kernel (a*w as its one
     * byte term), which computes bands, not oneDNN's */
    bool depthwise = s->groups == s->in_c && s->out_c == s->in_c && s->groups > 1;
    if (depthwise && vnni && ax_gemm_plan_path(p) == AX_PATH_EXACT && m->wgt == AX_S8 && !all)
        cr_assert(ax_conv2d_computes_bands(cw) && strncmp(got, "lowrank_dwconv_16c4", 19) == 0,
                  "%s: EXACT depthwise layer ran %s", m->name, got);
    /* the grouped LOWRANK kernel: a multiple of 16 channels per group, 8 (in pairs or fours) or 4 (in fours) */
    size_t cg = s->in_c / s->groups;
    /* and their grouped layers of 8 channels: that kernel, not oneDNN's grouped convolution (conv2d.c) */
    if (!depthwise && s->groups % 2 == 0 && cg == 8 && vnni && ax_gemm_plan_path(p) == AX_PATH_EXACT &&
        m->wgt == AX_S8 && !all)
        cr_assert(strstr(got, "lowrank_gconv_8x32c4") == got, "%s: EXACT grouped layer of 8 channels ran %s", m->name,
                  got);
    /* _s8u8: the form with its signs swapped (no row corrections; u8 weight factors) */
    /* 4x64g4: 4 channels and 4 columns a group, groups % 16 == 0 (lanes are groups), and only there */
    bool g16 = strcmp(got, "lowrank_gconv_4x64g4__avx512vnni") == 0 ||
               strcmp(got, "lowrank_gconv_4x64g4_s8u8__avx512vnni") == 0;
    bool swapped = strcmp(got, "lowrank_gconv_8x32c4_s8u8__avx512vnni") == 0 ||
                   strcmp(got, "lowrank_gconv_4x64g4_s8u8__avx512vnni") == 0;
    bool fits16 = cg == 4 && s->out_c == 4 * s->groups && s->groups % 16 == 0;
    s8u8_layers += swapped;
    glr16_layers += g16;
    glr16_s8u8_layers += g16 && swapped;
    if (g16) cr_assert(fits16, "%s: %s on %zu channels, %zu groups", m->name, got, cg, s->groups);
    if (strstr(got, "lowrank_gconv_8x32c4") == got)
        cr_assert(!fits16, "%s: %s where lowrank_gconv_4x64g4 fits", m->name, got);
    if (swapped || g16 || strcmp(got, "lowrank_gconv_8x32c4__avx512vnni") == 0) {
        cr_assert(s->groups > 1 && (cg % 16 == 0 || (cg == 8 && s->groups % 2 == 0) ||
                                    (cg == 4 && s->groups % 4 == 0)), "%s", m->name);
        /* 4 channels of more than 4 terms (5 in units of 16 groups): dwconv2d.c's planes are faster (with row
         * corrections past 3, 4 in units of 16: factored_grouped_row_corr_4) */
        cr_assert(cg != 4 || ax_gemm_plan_terms(p) <= (g16 ? 5 : 4), "%s: %d terms at 4 channels per group on %s",
                  m->name, ax_gemm_plan_terms(p), got);
        glr_layers++;
        glr4_layers += cg == 4;
        if (ax_gemm_plan_terms(p) > glr_terms_max) glr_terms_max = ax_gemm_plan_terms(p);
    }
    /* a LUT plan over a linear base on VNNI: its grouped layers past the direct loop (> 4 channels per group)
     * that the grouped kernel takes run the base there and the residual's LUT GEMMs (conv2d.c, split) */
    bool split_s8 = strcmp(got, "lowrank_gconv_8x32c4_s8u8__avx512vnni+lut_gemm_256x1__avx512vbmi") == 0;
    split_s8_layers += split_s8;
    if (split_s8 || strcmp(got, "lowrank_gconv_8x32c4__avx512vnni+lut_gemm_256x1__avx512vbmi") == 0) {
        cr_assert(s->groups > 1 && cg > 4 && ax_gemm_plan_path(p) == AX_PATH_LUT &&
                  strstr(ax_gemm_plan_kernel_name(p), "+exact_gemm"), "%s: plan %s, %zu channels per group",
                  m->name, ax_gemm_plan_kernel_name(p), cg);
        split_layers++;
    }
    /* layers of <= 4 channels per group that neither a grouped kernel nor oneDNN takes run the direct loop
     * (dwconv2d.c) and name its kernel: the integer form's where it computes bands, else the planes' */
    bool direct = strstr(got, "_dwconv_") != NULL;
    if (s->groups > 1 && cg <= 4 && !dnn && !strstr(got, "_gconv_"))
        cr_assert(direct, "%s: %zu channels per group ran %s", m->name, cg, got);
    if (direct)
        cr_assert(s->groups > 1 && cg <= 4 && ax_conv2d_computes_bands(cw) == (strncmp(got, "lowrank_dwconv", 14) == 0),
                  "%s: %zu channels per group ran %s", m->name, cg, got);
    /* on AVX2 every LOWRANK and EXACT plan's (int16 terms) grouped layer of an even number >= 4 of channels
     * per group takes it (4: before the direct loop), and no other layer */
    bool glr2 = ax_gemm_plan_isa(p) == AX_ISA_AVX2 && s->groups > 1 && cg >= 4 && cg % 2 == 0 &&
                (ax_gemm_plan_path(p) == AX_PATH_LOWRANK || ax_gemm_plan_path(p) == AX_PATH_EXACT ||
                 ax_gemm_plan_path(p) == AX_PATH_EXACT_OWN);
    if (glr2 && !dnn) cr_assert_str_eq(got, "lowrank_gconv_6x16c2__avx2", "%s cg %zu", m->name, cg);
    if (strcmp(got, "lowrank_gconv_6x16c2__avx2") == 0) {
        cr_assert(glr2, "%s: %zu channels per group", m->name, cg);
        glr2_layers++;
    }
}

/* ax_conv2d_bands: the bands put back together give want (the reference),
 * every output row in exactly one band, on 1 .. max_threads threads; only
 * depthwise layers' kernels compute bands themselves (the others: whole
 * images first), and expect_bands (1 or 0; -1: either) says whether this
 * layer's must */
static int band_layers_avx512; /* layers of AVX-512 plans whose kernel computed the bands */

typedef struct band_sink {
    int32_t *Y;
    size_t batch, oh, row; /* row: int32 per output row */
    unsigned char *seen;   /* per (image, row): bands that held it */
    int bad;               /* a band outside the output */
} band_sink;

static void band_copy(void *ctx, size_t b, size_t oy0, size_t rows, const int32_t *Y)
{
    band_sink *k = ctx;
    if (b >= k->batch || oy0 + rows > k->oh || rows == 0) {
        k->bad = 1;
        return;
    }
    memcpy(k->Y + (b * k->oh + oy0) * k->row, Y, rows * k->row * sizeof *Y);
    for (size_t r = 0; r < rows; r++) k->seen[b * k->oh + oy0 + r]++;
}

static void check_bands(const ax_gemm_plan *p, const char *what, const ax_conv2d_shape *s, const uint8_t *X,
                        const ax_conv2d_weights *cw, const int32_t *want, int max_threads, int expect_bands)
{
    size_t oh, ow;
    ax_error err = {{0}};
    cr_assert_eq(ax_conv2d_output_size(s, &oh, &ow, &err), 0, "%s", err.msg);
    const char *kn = ax_conv2d_kernel_name(cw);
    bool bands = ax_conv2d_computes_bands(cw);
    if (bands) cr_assert(s->in_c == s->groups && s->out_c == s->groups, "%s: kernel %s, not depthwise", what, kn);
    band_layers_avx512 += bands && ax_gemm_plan_isa(p) == AX_ISA_AVX512;
    if (expect_bands >= 0) cr_assert_eq(bands, expect_bands == 1, "%s: kernel %s computes bands: %d", what, kn, bands);
    size_t ny = s->batch * oh * ow * s->out_c;
    band_sink k = {.Y = malloc(ny * 4 + 4), .batch = s->batch, .oh = oh, .row = ow * s->out_c,
                   .seen = malloc(s->batch * oh + 1)};
    for (int threads = 1; threads <= max_threads; threads++) {
        memset(k.Y, 0x5a, ny * 4), memset(k.seen, 0, s->batch * oh), k.bad = 0;
        cr_assert_eq(ax_conv2d_bands(p, s, X, cw, band_copy, &k, threads, &err), 0, "%s", err.msg);
        cr_assert(!k.bad, "%s kernel %s threads %d: a band outside the output", what, kn, threads);
        for (size_t r = 0; r < s->batch * oh; r++)
            cr_assert_eq(k.seen[r], 1, "%s kernel %s threads %d: image %zu row %zu in %d bands", what, kn, threads,
                         r / oh, r % oh, k.seen[r]);
        for (size_t i = 0; i < ny; i++)
            if (k.Y[i] != want[i])
                cr_assert_fail("%s kernel %s threads %d, bands: Y[%zu] = %d, reference %d", what, kn, threads, i,
                               k.Y[i], want[i]);
    }
    free(k.Y), free(k.seen);
}

static void check_case(const ax_mult *m, const ccase *c, ax_gemm_plan *const plans[], int n_plans, bool pad_zero)
{
    ax_conv2d_shape s = {.batch = c->b, .in_h = c->h, .in_w = c->w, .in_c = c->c, .out_c = c->o,
                         .kernel_h = c->kh, .kernel_w = c->kw, .stride_h = c->sh, .stride_w = c->sw,
                         .dilation_h = c->dh, .dilation_w = c->dw, .pad_top = c->pt, .pad_left = c->pl,
                         .pad_bottom = c->pb, .pad_right = c->pr, .groups = c->g,
                         .pad_byte = pad_zero ? 0 : (uint8_t)(1 + rnd() % 255)};
    size_t oh, ow;
    ax_error err = {{0}};
    cr_assert_eq(ax_conv2d_output_size(&s, &oh, &ow, &err), 0, "%s", err.msg);
    size_t nx = c->b * c->h * c->w * c->c, nw = c->kh * c->kw * (c->c / c->g) * c->o, ny = c->b * oh * ow * c->o;
    uint8_t *X = malloc(nx), *W = malloc(nw);
    int32_t *want = malloc(ny * 4), *got = malloc(ny * 4), *init = malloc(ny * 4);
    for (size_t i = 0; i < nx; i++) X[i] = (uint8_t)rnd();
    for (size_t i = 0; i < nw; i++) W[i] = (uint8_t)rnd();
    for (size_t i = 0; i < ny; i++) init[i] = (int32_t)rnd();
    for (int acc = 0; acc <= 1; acc++) {
        memcpy(want, init, ny * 4);
        ax_conv2d_reference(m->table, &s, X, W, want, acc);
        for (int v = 0; v < n_plans; v++) {
            ax_conv2d_weights *cw = NULL;
            ax_conv2d_shape one = s; /* weights do not depend on the batch: packed for 1, */
            one.batch = acc ? s.batch : 1; /* or for the run's batch (oneDNN: both primitives made at packing) */
            cr_assert_eq(ax_conv2d_pack_weights(plans[v], &one, W, &cw, &err), 0, "%s", err.msg);
            check_kernel(plans[v], m, &s, cw);
            for (int threads = 1; threads <= 3; threads++) {
                memcpy(got, init, ny * 4);
                cr_assert_eq(ax_conv2d(plans[v], &s, X, cw, got, acc, threads, &err), 0, "%s", err.msg);
                for (size_t i = 0; i < ny; i++)
                    if (got[i] != want[i])
                        cr_assert_fail("%s kernel %s case %zux%zux%zux%zu o=%zu k=%zux%zu g=%zu pad byte %d acc=%d "
                                       "threads %d: Y[%zu] = %d, reference %d",
                                       m->name, ax_conv2d_kernel_name(cw), c->b, c->h, c->w, c->c, c->o, c->kh,
                                       c->kw, c->g, s.pad_byte, acc, threads, i, got[i], want[i]);
            }
            if (!acc) check_bands(plans[v], m->name, &s, X, cw, want, 3, -1);
            ax_conv2d_weights_free(cw);
        }
    }
    free(X), free(W), free(want), free(got), free(init);
}

static void check_mult(ax_mult *m)
{
    ax_gemm_plan *plans[16];
    int n = 0;
    for (ax_isa isa = AX_ISA_SCALAR; isa <= AX_ISA_NEON; isa++) {
        if (!ax_cpu_supports(isa)) continue;
        ax_error err = {{0}};
        cr_assert_eq(ax_gemm_plan_create(m, isa, AX_PATH_LUT, &plans[n++], &err), 0, "%s", err.msg);
        if (ax_mult_is_exact(m)) { /* oneDNN where it verifies, and our own kernel */
            cr_assert_eq(ax_gemm_plan_create(m, isa, AX_PATH_EXACT, &plans[n++], &err), 0, "%s", err.msg);
            if (isa == AX_ISA_AVX2 || isa == AX_ISA_AVX512)
                cr_assert_eq(ax_gemm_plan_create(m, isa, AX_PATH_EXACT_OWN, &plans[n++], &err), 0, "%s", err.msg);
        } else if (ax_gemm_plan_create(m, isa, AX_PATH_LOWRANK, &plans[n], &err) == 0)
            n++;
        if (ax_gemm_plan_create(m, isa, AX_PATH_LUTROW, &plans[n], &err) == 0) n++; /* AVX2, AVX-512 */
    }
    for (size_t i = 0; i < sizeof CASES / sizeof *CASES; i++) {
        const ccase *c = &CASES[i];
        size_t macs = c->b * c->h * c->w * c->o * c->kh * c->kw * (c->c / c->g);
        if (ax_test_reduced() && macs >= 100000) continue;
        check_case(m, c, plans, n, false);
        if (ax_mult_is_exact(m)) check_case(m, c, plans, n, true); /* padding oneDNN can take */
    }
    for (int v = 0; v < n; v++) ax_gemm_plan_free(plans[v]);
    ax_mult_free(m);
}

Test(conv, exact_s8)
{
    ax_mult *m = ax_mult_new();
    m->act = m->wgt = AX_S8;
    snprintf(m->name, sizeof m->name, "exact-s8");
    for (unsigned i = 0; i < AX_TABLE_SIZE; i++) m->table[i] = ax_exact_product(AX_S8, AX_S8, i >> 8, i & 255);
    check_mult(m);
    if (ax_cpu_supports(AX_ISA_AVX2)) cr_assert(glr2_layers > 0, "no layer ran lowrank_gconv_6x16c2__avx2");
}

static ax_mult *exact_mult(ax_operand act, ax_operand wgt, const char *name)
{
    ax_mult *m = ax_mult_new();
    cr_assert_not_null(m);
    m->act = act, m->wgt = wgt;
    snprintf(m->name, sizeof m->name, "%s", name);
    for (unsigned i = 0; i < AX_TABLE_SIZE; i++) m->table[i] = ax_exact_product(act, wgt, i >> 8, i & 255);
    return m;
}

/* every convolution (and every GEMM) through oneDNN where it verifies:
 * check_kernel asserts the primitive took every layer it may take */
Test(conv, exact_onednn_every_shape)
{
    setenv("AX_ONEDNN", "always", 1);
    check_mult(exact_mult(AX_S8, AX_S8, "exact-s8"));
    unsetenv("AX_ONEDNN");
}

/* One EXACT plan (the best ISA: oneDNN where it verifies) on every case,
 * pad byte 0 and not, under $AX_ONEDNN=always and the given setting. */
static void check_onednn_setting(ax_mult *m, const char *var, const char *value)
{
    setenv("AX_ONEDNN", "always", 1);
    setenv(var, value, 1);
    ax_gemm_plan *p = NULL;
    ax_error err = {{0}};
    cr_assert_eq(ax_gemm_plan_create(m, AX_ISA_AUTO, AX_PATH_EXACT, &p, &err), 0, "%s", err.msg);
    for (size_t i = 0; i < sizeof CASES / sizeof *CASES; i++) {
        check_case(m, &CASES[i], &p, 1, true);
        check_case(m, &CASES[i], &p, 1, false);
    }
    ax_gemm_plan_free(p);
    unsetenv(var);
    unsetenv("AX_ONEDNN");
}

/* s8 activations, each way exact_conv_onednn.c has (check_kernel asserts
 * the primitive took every layer, except for `native`, which may round):
 * ext (u8 source plus extra channels carrying the correction), shift (u8
 * source, our int32 correction afterwards), native (oneDNN's s8 source) */
Test(conv, exact_onednn_s8_modes)
{
    ax_mult *m = exact_mult(AX_S8, AX_S8, "exact-s8");
    check_onednn_setting(m, "AX_ONEDNN_CONV_S8", "ext");
    check_onednn_setting(m, "AX_ONEDNN_CONV_S8", "shift");
    check_onednn_setting(m, "AX_ONEDNN_CONV_S8", "native");
    ax_mult_free(m);
}

/* Several threads run one layer's weights at once (nn/ runs the images of
 * a batch so): batch sizes 1 and 2 interleaved, so primitives are made
 * while others run, and scratch buffers are contended. */
typedef struct conc_job {
    const ax_gemm_plan *p;
    const ax_conv2d_weights *cw;
    ax_conv2d_shape s;
    const uint8_t *X;
    const int32_t *want;
    size_t ny;
    int bad;
} conc_job;

static void *conc_run(void *arg)
{
    conc_job *j = arg;
    int32_t *got = malloc(j->ny * 4);
    ax_error err = {{0}};
    for (int r = 0; r < 4 && got; r++) {
        if (ax_conv2d(j->p, &j->s, j->X, j->cw, got, false, 1, &err) != 0 || memcmp(got, j->want, j->ny * 4))
            j->bad++;
    }
    free(got);
    return NULL;
}

Test(conv, exact_onednn_concurrent)
{
    ax_mult *m = exact_mult(AX_S8, AX_S8, "exact-s8");
    ax_gemm_plan *p = NULL;
    ax_error err = {{0}};
    cr_assert_eq(ax_gemm_plan_create(m, AX_ISA_AUTO, AX_PATH_EXACT, &p, &err), 0, "%s", err.msg);
    ax_conv2d_shape s = {.batch = 2, .in_h = 12, .in_w = 11, .in_c = 16, .out_c = 24, .kernel_h = 3, .kernel_w = 3,
                         .stride_h = 1, .stride_w = 1, .dilation_h = 1, .dilation_w = 1, .pad_top = 1,
                         .pad_left = 1, .pad_bottom = 1, .pad_right = 1, .groups = 1};
    size_t oh, ow;
    cr_assert_eq(ax_conv2d_output_size(&s, &oh, &ow, &err), 0, "%s", err.msg);
    size_t nx = 2 * 12 * 11 * 16, nw = 9 * 16 * 24, ny = 2 * oh * ow * 24;
    uint8_t *X = malloc(nx), *W = malloc(nw);
    int32_t *want = malloc(ny * 4);
    for (size_t i = 0; i < nx; i++) X[i] = (uint8_t)rnd();
    for (size_t i = 0; i < nw; i++) W[i] = (uint8_t)rnd();
    ax_conv2d_reference(m->table, &s, X, W, want, false);
    ax_conv2d_weights *cw = NULL;
    ax_conv2d_shape one = s;
    one.batch = 1;
    cr_assert_eq(ax_conv2d_pack_weights(p, &one, W, &cw, &err), 0, "%s", err.msg);
    if (strcmp(ax_gemm_plan_kernel_name(p), "exact_gemm__onednn") == 0)
        cr_assert_str_eq(ax_conv2d_kernel_name(cw), "exact_conv__onednn");
    conc_job jobs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (conc_job){.p = p, .cw = cw, .s = s, .X = X, .want = want, .ny = ny};
        jobs[i].s.batch = 1 + (size_t)(i % 2); /* batch 1: the first image of want */
        jobs[i].ny = jobs[i].s.batch * oh * ow * 24;
        cr_assert_eq(pthread_create(&th[i], NULL, conc_run, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(jobs[i].bad, 0, "thread %d (%s): %d wrong results", i, ax_conv2d_kernel_name(cw), jobs[i].bad);
    }
    ax_conv2d_weights_free(cw);
    ax_gemm_plan_free(p);
    ax_mult_free(m);
    free(X), free(W), free(want);
}

/* u8 activations (oneDNN's own u8 source) and u8 weights (never oneDNN's
 * convolution: it takes s8 weights only), every shape */
Test(conv, exact_onednn_u8)
{
    setenv("AX_ONEDNN", "always", 1);
    check_mult(exact_mult(AX_U8, AX_S8, "exact-u8s8"));
    check_mult(exact_mult(AX_U8, AX_U8, "exact-u8"));
    unsetenv("AX_ONEDNN");
}
Test(conv, random_table)
{
    ax_mult *m = ax_mult_new();
    m->act = m->wgt = AX_U8;
    snprintf(m->name, sizeof m->name, "rand-u16");
    for (unsigned i = 0; i < AX_TABLE_SIZE; i++) m->table[i] = (int32_t)(rnd() % 65536) - 1000;
    check_mult(m);
}

Test(conv, family_drum)
{
    ax_mult *m = NULL;
    ax_error err = {{0}};
    cr_assert_eq(ax_mult_from_family_spec("drum-u8:k=4", &m, &err), 0, "%s", err.msg);
    check_mult(m);
}

/* drum folded under s8 tensors: on AVX-512 VNNI one byte term and a row
 * term (kernels/lowrank.c), which its depthwise and grouped layers do not
 * give to the low-rank kernels that know none */
Test(conv, folded_drum_row_term)
{
    ax_mult *m = NULL;
    ax_error err = {{0}};
    cr_assert_eq(ax_mult_from_family_spec("drum-u8:k=4", &m, &err), 0, "%s", err.msg);
    check_mult(ax_test_fold_u8(m));
}

/* whether m's LOWRANK plan on AVX-512 runs the VNNI byte kernel (so its
 * grouped layers must take lowrank_gconv_8x32c4__avx512vnni) */
static bool vnni_byte_kernel(const ax_mult *m)
{
    ax_gemm_plan *p = NULL;
    ax_error err = {{0}};
    bool yes = ax_cpu_supports(AX_ISA_AVX512) && ax_gemm_plan_create(m, AX_ISA_AVX512, AX_PATH_LOWRANK, &p, &err) == 0 &&
               strstr(ax_gemm_plan_kernel_name(p), "8x32c4");
    ax_gemm_plan_free(p);
    return yes;
}

/* (a & ~1)(w & ~1): one term of the table itself (the mul8s_1L2J structure),
 * on AVX-512 VNNI the byte kernel; u8: its weight factor shifted into s8 with
 * a per-row correction */
static ax_mult *drop1_mult(ax_operand op)
{
    ax_mult *m = ax_mult_new();
    m->act = m->wgt = op;
    snprintf(m->name, sizeof m->name, "drop1-%s", ax_operand_name(op));
    for (unsigned i = 0; i < AX_TABLE_SIZE; i++)
        m->table[i] = (ax_operand_value(op, i >> 8) & ~1) * (ax_operand_value(op, i & 255) & ~1);
    return m;
}
static void check_drop1(ax_operand op) { check_mult(drop1_mult(op)); }
Test(conv, factored_drop1_s8)
{
    check_drop1(AX_S8); /* one term, no row corrections: the grouped kernel on AVX-512 VNNI */
    if (ax_cpu_supports(AX_ISA_AVX2)) cr_assert(glr2_layers > 0, "no layer ran lowrank_gconv_6x16c2__avx2");
    ax_gemm_plan *p = NULL;
    ax_error err = {{0}};
    ax_mult *m = exact_mult(AX_S8, AX_S8, "exact-s8");
    if (ax_cpu_supports(AX_ISA_AVX512) && ax_gemm_plan_create(m, AX_ISA_AVX512, AX_PATH_LOWRANK, &p, &err) == 0 &&
        strstr(ax_gemm_plan_kernel_name(p), "8x32c4"))
        cr_assert(glr_layers > 0 && glr4_layers > 0 && glr16_layers > 0, "no layer (of 4 channels per group: %d; "
                  "in units of 16 groups: %d) ran the grouped VNNI kernel", glr4_layers, glr16_layers);
    ax_gemm_plan_free(p);
    ax_mult_free(m);
}
Test(conv, factored_drop1_u8)
{
    glr_layers = 0;
    check_drop1(AX_U8); /* the weight factor shifted: row corrections, the grouped kernel all the same */
    ax_mult *m = exact_mult(AX_S8, AX_S8, "exact-s8");
    if (vnni_byte_kernel(m)) cr_assert(glr_layers > 0, "no layer ran lowrank_gconv_8x32c4__avx512vnni");
    ax_mult_free(m);
}

/* one byte term whose activation factor is a permutation of the bytes (the
 * depthwise byte kernel's table lookup), or the byte itself (no mapping) */
Test(conv, factored_perm_u8)
{
    ax_mult *m = ax_mult_new();
    m->act = m->wgt = AX_U8;
    snprintf(m->name, sizeof m->name, "perm-u8");
    for (unsigned i = 0; i < AX_TABLE_SIZE; i++) m->table[i] = (int32_t)((i >> 8) * 7 % 256) * (int32_t)((i & 255) / 3);
    check_mult(m);
}
/* two terms of the table itself (a*w + (a >> 4)(w & 7)): the AVX2
 * depthwise kernel's several-term build */
Test(conv, factored_two_terms_u8)
{
    ax_mult *m = ax_mult_new();
    m->act = m->wgt = AX_U8;
    snprintf(m->name, sizeof m->name, "two-terms-u8");
    for (unsigned i = 0; i < AX_TABLE_SIZE; i++) m->table[i] = (int32_t)((i >> 8) * (i & 255) + (i >> 12) * (i & 7));
    check_mult(m);
    if (ax_cpu_supports(AX_ISA_AVX2)) cr_assert(glr2_layers > 0, "no layer ran lowrank_gconv_6x16c2__avx2");
}
/* s8 x s8 with an error of two terms, (a & 3) * (w & 7) - 8 * (a & 1):
 * on AVX-512 the byte kernel's multi-term depthwise rows (rows_fn's pairs
 * and row_any, several terms per column), and its bands */
Test(conv, factored_two_terms_s8)
{
    ax_mult *m = ax_mult_new();
    m->act = m->wgt = AX_S8;
    snprintf(m->name, sizeof m->name, "two-terms-s8");
    for (unsigned i = 0; i < AX_TABLE_SIZE; i++) {
        int32_t a = ax_operand_value(AX_S8, i >> 8), w = ax_operand_value(AX_S8, i & 255);
        m->table[i] = a * w + (a & 3) * (w & 7) - 8 * (a & 1);
    }
    band_layers_avx512 = 0;
    check_mult(m);
    if (ax_cpu_supports(AX_ISA_AVX512))
        cr_assert(band_layers_avx512 > 0, "no depthwise layer of an AVX-512 plan ran the byte kernel's rows");
}

/* a*w plus an error whose weight factor spans 16,257 values: on AVX-512
 * VNNI a byte form of three terms split from two (ax_lowrank_split_bytes)
 * with a u8 weight factor, whose row corrections keep its depthwise layers
 * on the byte planes, not the depthwise byte kernel (gemm_plan.c,
 * dwlr_pays), unless its signs swap (no row corrections: 3 terms pay) */
Test(conv, factored_split_bytes)
{
    band_layers_avx512 = s8u8_layers = 0;
    check_mult(ax_test_wide_error_u8());
    if (s8u8_layers) cr_assert(band_layers_avx512 > 0, "a swapped form of 3 terms kept its depthwise layers off the byte kernel");
    else cr_assert_eq(band_layers_avx512, 0, "a depthwise layer ran the byte kernel on a form it is slower on");
}

/* s8 x s8 forms of 3 and 5 byte terms without row corrections (two with an
 * activation offset, so the kernel's corrections sum over terms): on AVX-512
 * VNNI the grouped kernel over all the terms (a byte mapped to its terms'
 * factors, granule by granule); at 4 channels per group, 5 terms only in
 * units of 16 groups (4x64g4) */
static void check_grouped_terms(int extra)
{
    ax_mult *m = ax_mult_new();
    m->act = m->wgt = AX_S8;
    snprintf(m->name, sizeof m->name, "terms-%d-s8", 1 + extra);
    for (unsigned i = 0; i < AX_TABLE_SIZE; i++) {
        int32_t a = ax_operand_value(AX_S8, i >> 8), w = ax_operand_value(AX_S8, i & 255);
        int32_t e[4] = {(a & 1) * (w & 15), ((a >> 1) & 1) * ((w >> 4) & 7), ((a >> 2) & 1) * (w >> 5),
                        -((a >> 3) & 1) * (w & 3)}; /* mul8s_1KVA-like: bits of a times a few of w */
        m->table[i] = a * w;
        for (int t = 0; t < extra; t++) m->table[i] += e[t];
    }
    ax_gemm_plan *p = NULL;
    ax_error err = {{0}};
    bool vnni = ax_cpu_supports(AX_ISA_AVX512) &&
                ax_gemm_plan_create(m, AX_ISA_AVX512, AX_PATH_LOWRANK, &p, &err) == 0 &&
                strstr(ax_gemm_plan_kernel_name(p), "8x32c4");
    if (vnni) cr_assert_eq(ax_gemm_plan_terms(p), 1 + extra, "%s: %d terms", m->name, ax_gemm_plan_terms(p));
    ax_gemm_plan_free(p);
    glr_terms_max = glr4_layers = glr16_layers = 0;
    check_mult(m);
    if (vnni) cr_assert_eq(glr_terms_max, 1 + extra, "no grouped layer ran lowrank_gconv_8x32c4__avx512vnni on "
                           "%d terms (most: %d)", 1 + extra, glr_terms_max);
    if (vnni) cr_assert(glr16_layers > 0, "no layer ran lowrank_gconv_4x64g4 on %d terms", 1 + extra);
    if (vnni && extra == 4) cr_assert_eq(glr4_layers, glr16_layers, "%d layers of 4 channels per group ran the "
                                         "grouped kernel on 5 terms, %d of them in units of 16", glr4_layers,
                                         glr16_layers);
}
Test(conv, factored_grouped_3_terms) { check_grouped_terms(2); }
Test(conv, factored_grouped_5_terms) { check_grouped_terms(4); }

/* s8 activations x u8 weights, a*w + (a >> 5) + extra error terms: a*w's
 * weight factor shifted into s8 (w_off 128) against an activation offset
 * (a_off -128), so the grouped VNNI kernel adds per-row corrections, summed
 * per input pixel and group, and a fixed a_off w_off per column; with no
 * extra term (a >> 5) is a row term, which adds to both. The extra terms'
 * weight factors take both signs, so no form with the signs swapped drops
 * the corrections. The kernel's tiles sum the corrections themselves when
 * one term has them all (a*w's, made term 0: _row_corr_3, _4, _5), and
 * conv2d.c sums them with a row term (_row_term). At 4 channels per group
 * the kernel takes at most 3 terms with row corrections, in units of 16
 * groups 4 (5 when the tile sums them). */
static void check_grouped_row_corr(int extra, int terms, int row_terms)
{
    ax_mult *m = ax_mult_new();
    m->act = AX_S8, m->wgt = AX_U8;
    snprintf(m->name, sizeof m->name, "row-corr-%d-s8u8", extra);
    for (unsigned i = 0; i < AX_TABLE_SIZE; i++) {
        int32_t a = ax_operand_value(AX_S8, i >> 8), w = ax_operand_value(AX_U8, i & 255);
        int32_t e[3] = {(a & 1) * ((w & 15) - 8), ((a >> 1) & 1) * ((w >> 4) & 7), ((a >> 2) & 1) * ((w >> 5) - 4)};
        m->table[i] = a * w + (a >> 5);
        for (int t = 0; t < extra; t++) m->table[i] += e[t];
    }
    bool vnni = vnni_byte_kernel(m);
    if (vnni) {
        ax_gemm_plan *p = NULL;
        ax_error err = {{0}};
        cr_assert_eq(ax_gemm_plan_create(m, AX_ISA_AVX512, AX_PATH_LOWRANK, &p, &err), 0, "%s", err.msg);
        cr_assert(ax_gemm_plan_terms(p) == terms && ax_gemm_plan_row_terms(p) == row_terms, "%s: %d terms, %d row terms",
                  m->name, ax_gemm_plan_terms(p), ax_gemm_plan_row_terms(p));
        ax_gemm_plan_free(p);
    }
    glr_layers = glr4_layers = s8u8_layers = glr16_layers = 0;
    check_mult(m);
    if (!vnni) return;
    cr_assert(glr_layers > 0 && s8u8_layers == 0,
              "no grouped layer ran lowrank_gconv_8x32c4__avx512vnni with row corrections (%d swapped)", s8u8_layers);
    cr_assert(glr16_layers > 0, "no layer ran lowrank_gconv_4x64g4 with row corrections on %d terms", terms);
    if (terms <= 3) cr_assert(glr4_layers > glr16_layers, "no layer of 4 channels per group in fours ran the "
                              "grouped kernel (in units of 16 groups: %d)", glr16_layers);
    else cr_assert_eq(glr4_layers, glr16_layers, "%d layers of 4 channels per group ran the grouped kernel on %d "
                      "terms, %d of them in units of 16", glr4_layers, terms, glr16_layers);
}
Test(conv, factored_grouped_row_term) { check_grouped_row_corr(0, 1, 1); }
Test(conv, factored_grouped_row_corr_4) { check_grouped_row_corr(2, 4, 0); }
Test(conv, factored_grouped_row_corr_3) { check_grouped_row_corr(1, 3, 0); }
Test(conv, factored_grouped_row_corr_5) { check_grouped_row_corr(3, 5, 0); }

/* u8 x u8, a*w + error(a, w) */
static ax_mult *u8_product_plus(const char *name, int32_t (*error)(int32_t a, int32_t w))
{
    ax_mult *m = ax_mult_new();
    m->act = m->wgt = AX_U8;
    snprintf(m->name, sizeof m->name, "%s", name);
    for (unsigned i = 0; i < AX_TABLE_SIZE; i++) {
        int32_t a = (int32_t)(i >> 8), w = (int32_t)(i & 255);
        m->table[i] = a * w + error(a, w);
    }
    return m;
}

/* error terms whose weight factors are u8 too: the form's row corrections
 * (w shifted into s8) are dropped by swapping its signs, f' = a - 128 s8
 * against g' u8 (lowrank_gconv_8x32c4_s8u8), and without them 4 channels
 * per group take up to 4 terms */
static int32_t three_u8_terms(int32_t a, int32_t w)
{
    return (a & 1) * (w & 15) + ((a >> 1) & 1) * ((w >> 4) & 7) + ((a >> 2) & 1) * (w >> 5);
}
Test(conv, factored_grouped_signs_swapped)
{
    ax_mult *m = u8_product_plus("swap-u8", three_u8_terms);
    bool vnni = vnni_byte_kernel(m);
    glr_layers = glr4_layers = s8u8_layers = glr16_s8u8_layers = 0;
    check_mult(m);
    if (vnni) cr_assert(s8u8_layers > 0 && glr4_layers > 0 && glr16_s8u8_layers > 0,
                        "swapped: %d grouped layers, %d of them at 4 channels, %d in units of 16 groups", s8u8_layers,
                        glr4_layers, glr16_s8u8_layers);
}

/* a*w + (a & 1)(w & 15): two terms whose row corrections kept the
 * depthwise byte kernel away (dwlr_pays); swapped, its depthwise layers
 * take it (lowrank_dwconv_16c4_s8u8: bands computed) */
static int32_t one_u8_term(int32_t a, int32_t w) { return (a & 1) * (w & 15); }
Test(conv, factored_depthwise_signs_swapped)
{
    ax_mult *m = u8_product_plus("swap2-u8", one_u8_term);
    bool vnni = vnni_byte_kernel(m);
    s8u8_layers = band_layers_avx512 = 0;
    check_mult(m);
    if (vnni) cr_assert(s8u8_layers > 0 && band_layers_avx512 > 0, "swapped: %d grouped layers, %d depthwise ones",
                        s8u8_layers, band_layers_avx512);
}

/* exact plus a small random error: on AVX-512 a LUT plan of one residual
 * plane over a linear base c_w * a, whose grouped layers on VNNI run the
 * base on the grouped kernel (a byte form, with row corrections for u8
 * weights) and add the residual's LUT GEMMs chunk by chunk */
static void check_linear_grouped(ax_operand act, ax_operand wgt, int lo, unsigned span)
{
    ax_mult *m = exact_mult(act, wgt, "");
    bool vnni = vnni_byte_kernel(m);
    for (unsigned i = 0; i < AX_TABLE_SIZE; i++) m->table[i] += lo + (int)(rnd() % span);
    snprintf(m->name, sizeof m->name, "near-exact-%s%s", ax_operand_name(act), ax_operand_name(wgt));
    split_layers = split_s8_layers = 0;
    check_mult(m);
    if (!vnni) return;
    cr_assert(split_layers > 0, "no grouped layer ran the linear base on the grouped kernel");
    /* u8 weights: c_w fits u8, not s8, so the base's signs are swapped (no row sums) */
    cr_assert(wgt == AX_U8 ? split_s8_layers == split_layers : split_s8_layers == 0, "%d of %d split layers swapped",
              split_s8_layers, split_layers);
}
Test(conv, linear_base_grouped_u8) { check_linear_grouped(AX_U8, AX_U8, 0, 200); }
Test(conv, linear_base_grouped_s8) { check_linear_grouped(AX_S8, AX_S8, -40, 140); }

Test(conv, factored_ident_u8)
{
    ax_mult *m = ax_mult_new();
    m->act = m->wgt = AX_U8;
    snprintf(m->name, sizeof m->name, "ident-u8");
    for (unsigned i = 0; i < AX_TABLE_SIZE; i++) m->table[i] = (int32_t)(i >> 8) * (int32_t)((i & 255) % 100 - 50);
    check_mult(m);
}

/* Layers with outputs past 8 L2s (the kernels' streamed stores) against the
 * reference: set and accumulate, 1 and 2 threads, a 64-byte aligned output
 * and one 16 bytes off (the stores that must not stream); and in bands */
static void check_large_cases(const ax_mult *m, ax_isa isa, ax_gemm_plan *p, const ccase *cases, size_t ncases,
                              uint8_t pad_byte, int expect_bands, const char *kernel)
{
    ax_error err = {{0}};
    for (size_t i = 0; i < ncases; i++) {
        const ccase *c = &cases[i];
        ax_conv2d_shape s = {.batch = c->b, .in_h = c->h, .in_w = c->w, .in_c = c->c, .out_c = c->o,
                             .kernel_h = c->kh, .kernel_w = c->kw, .stride_h = c->sh, .stride_w = c->sw,
                             .dilation_h = c->dh, .dilation_w = c->dw, .pad_top = c->pt, .pad_left = c->pl,
                             .pad_bottom = c->pb, .pad_right = c->pr, .groups = c->g, .pad_byte = pad_byte};
        size_t oh, ow;
        cr_assert_eq(ax_conv2d_output_size(&s, &oh, &ow, &err), 0, "%s", err.msg);
        size_t nx = c->b * c->h * c->w * c->c, nw = c->kh * c->kw * (c->c / c->g) * c->o, ny = c->b * oh * ow * c->o;
        uint8_t *X = malloc(nx), *W = malloc(nw);
        int32_t *want = malloc(ny * 4), *init = malloc(ny * 4), *buf = aligned_alloc(64, (ny * 4 + 127) / 64 * 64);
        cr_assert(X && W && want && init && buf);
        for (size_t k = 0; k < nx; k++) X[k] = (uint8_t)rnd();
        for (size_t k = 0; k < nw; k++) W[k] = (uint8_t)rnd();
        for (size_t k = 0; k < ny; k++) init[k] = (int32_t)rnd();
        ax_conv2d_weights *cw = NULL;
        cr_assert_eq(ax_conv2d_pack_weights(p, &s, W, &cw, &err), 0, "%s", err.msg);
        if (kernel)
            cr_assert(strstr(ax_conv2d_kernel_name(cw), kernel), "case %zu: kernel %s, not %s", i,
                      ax_conv2d_kernel_name(cw), kernel);
        for (int acc = 0; acc <= 1; acc++) {
            memcpy(want, init, ny * 4);
            ax_conv2d_reference(m->table, &s, X, W, want, acc);
            for (int run = 0; run < 4; run++) { /* threads 1, 2; aligned, then 16 bytes off */
                int32_t *got = buf + (run / 2) * 4;
                memcpy(got, init, ny * 4);
                cr_assert_eq(ax_conv2d(p, &s, X, cw, got, acc, 1 + run % 2, &err), 0, "%s", err.msg);
                for (size_t k = 0; k < ny; k++)
                    if (got[k] != want[k])
                        cr_assert_fail("%s kernel %s case %zu acc=%d run %d: Y[%zu] = %d, reference %d",
                                       ax_isa_name(isa), ax_conv2d_kernel_name(cw), i, acc, run, k, got[k], want[k]);
            }
            if (!acc) check_bands(p, ax_isa_name(isa), &s, X, cw, want, 2, expect_bands);
        }
        ax_conv2d_weights_free(cw);
        free(X), free(W), free(want), free(init), free(buf);
    }
}

/* LOWRANK depthwise on AVX-512 and AVX2 with outputs of ~10 MB (larger
 * than the caches of this machine but its L3; past 8 L2s both kernels
 * stream such outputs when aligned: the 48-channel cases at stride 1 and 2
 * reach pair_s1's and pair_s2's streaming stores), into a 64-byte aligned
 * output and a misaligned one: stride 1 and 2, 48
 * channels and 40 (a masked last block), odd widths (tails of the 4-pixel
 * groups), accumulate, 1 and 2 threads */
static void lowrank_dw_large_on(ax_isa isa)
{
    ax_mult *m = drop1_mult(AX_S8);
    ax_gemm_plan *p = NULL;
    ax_error err = {{0}};
    cr_assert_eq(ax_gemm_plan_create(m, isa, AX_PATH_LOWRANK, &p, &err), 0, "%s", err.msg);
    static const ccase cases[] = {
        /* b  h    w   c   o  kh kw sh sw dh dw pt pl pb pr g */
        {1, 255, 201, 48, 48, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 48}, /* s1: 9.8 MB */
        {2, 331, 299, 48, 48, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 48}, /* s2: 9.6 MB */
        {3, 301, 319, 40, 40, 3, 3, 2, 2, 1, 1, 0, 1, 1, 0, 40}, /* s2: 11.5 MB, unpadded top/right */
    };
    check_large_cases(m, isa, p, cases, sizeof cases / sizeof *cases, 3, 1, NULL);
    ax_gemm_plan_free(p);
    ax_mult_free(m);
}

Test(conv, lowrank_dw_large)
{
    if (ax_test_reduced()) return;
    if (ax_cpu_supports(AX_ISA_AVX512)) lowrank_dw_large_on(AX_ISA_AVX512);
    if (ax_cpu_supports(AX_ISA_AVX2)) lowrank_dw_large_on(AX_ISA_AVX2);
}

/* The grouped VNNI kernel with outputs past 8 L2s (16-20 MB: past them
 * on machines of up to 2 MiB of L2), whose whole-line stores then stream:
 * 4 channels and 4 columns a group in units of 16 groups (tile16), 8 and
 * 8 at stride 2 in units of 4 (put4x2), 8 and 8 in units of 2 (30
 * groups), 16 and 16 single groups (3 groups); aligned and 16 bytes off,
 * set and accumulate, 1 and 2 threads */
Test(conv, grouped_large)
{
    if (ax_test_reduced() || !ax_cpu_supports(AX_ISA_AVX512)) return;
    ax_mult *m = drop1_mult(AX_S8);
    ax_gemm_plan *p = NULL;
    ax_error err = {{0}};
    cr_assert_eq(ax_gemm_plan_create(m, AX_ISA_AVX512, AX_PATH_LOWRANK, &p, &err), 0, "%s", err.msg);
    static const ccase cases[] = {
        /* b  h    w    c    o  kh kw sh sw dh dw pt pl pb pr g */
        {2, 141, 141, 128, 128, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 32}, /* 4 a group: 20.4 MB */
        {2, 199, 201, 256, 256, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 32}, /* 8 a group, s2: 20.6 MB */
        {1, 151, 149, 240, 240, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 30}, /* 8 a group, 30 groups: 21.6 MB */
        {1, 300, 300, 48, 48, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3},    /* 16 a group, single groups: 17.3 MB */
    };
    check_large_cases(m, AX_ISA_AVX512, p, cases, sizeof cases / sizeof *cases, 5, 0, "lowrank_gconv");
    ax_gemm_plan_free(p);
    ax_mult_free(m);
}

/* LUT depthwise (dwconv2d.c's planes) with outputs past 8 L2s: 16k channels
 * into a 64-byte aligned output stream (AX_DW_STREAM: the pixels not kept
 * skipped), the rest stored; every ISA here, wide rows of dropped pixels
 * (pads shared), stride 2, stacked small images (dropped rows between
 * them), 40 channels (never streamed), accumulate, misaligned, 1 and 2 threads */
static void lut_dw_large_on(ax_isa isa)
{
    ax_mult *m = ax_mult_new();
    m->act = m->wgt = AX_U8;
    snprintf(m->name, sizeof m->name, "rand-u16");
    for (unsigned i = 0; i < AX_TABLE_SIZE; i++) m->table[i] = (int32_t)(rnd() % 65536) - 1000;
    ax_gemm_plan *p = NULL;
    ax_error err = {{0}};
    cr_assert_eq(ax_gemm_plan_create(m, isa, AX_PATH_LUT, &p, &err), 0, "%s", err.msg);
    static const ccase cases[] = {
        /* b   h    w   c   o  kh kw sh sw dh dw pt pl pb pr g */
        {1, 255, 201, 48, 48, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 48},   /* s1: 9.8 MB, a dropped pixel a row */
        {2, 331, 299, 48, 48, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 48},   /* s2: 9.6 MB */
        {230, 14, 14, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 64},   /* stacked 14x14 images: 11.5 MB */
        {3, 301, 319, 40, 40, 3, 3, 2, 2, 1, 1, 0, 1, 1, 0, 40},   /* 40 channels: stored, 11.5 MB */
    };
    check_large_cases(m, isa, p, cases, sizeof cases / sizeof *cases, 7, 0, NULL);
    ax_gemm_plan_free(p);
    ax_mult_free(m);
}

Test(conv, lut_dw_large)
{
    if (ax_test_reduced()) return;
    for (ax_isa isa = AX_ISA_SCALAR; isa <= AX_ISA_AVX512; isa++)
        if (ax_cpu_supports(isa)) lut_dw_large_on(isa);
}

Test(conv, shape_errors)
{
    ax_conv2d_shape s = {.batch = 1, .in_h = 4, .in_w = 4, .in_c = 6, .out_c = 4, .kernel_h = 3, .kernel_w = 3,
                         .stride_h = 1, .stride_w = 1, .dilation_h = 1, .dilation_w = 1, .groups = 4};
    size_t oh, ow;
    ax_error err = {{0}};
    cr_assert_eq(ax_conv2d_output_size(&s, &oh, &ow, &err), -1); /* 4 does not divide 6 */
    cr_assert(strstr(err.msg, "groups"), "%s", err.msg);
    s.groups = 2;
    cr_assert_eq(ax_conv2d_output_size(&s, &oh, &ow, &err), 0, "%s", err.msg);
    cr_assert_eq(oh, 2);
    cr_assert_eq(ow, 2);
    s.kernel_h = 5;
    cr_assert_eq(ax_conv2d_output_size(&s, &oh, &ow, &err), -1);
    s.kernel_h = 3, s.stride_w = 0;
    cr_assert_eq(ax_conv2d_output_size(&s, &oh, &ow, &err), -1);
}

Test(conv, weights_mismatch)
{
    ax_mult *m = ax_mult_new();
    m->act = m->wgt = AX_U8;
    ax_gemm_plan *p = NULL;
    ax_error err = {{0}};
    cr_assert_eq(ax_gemm_plan_create(m, AX_ISA_SCALAR, AX_PATH_LUT, &p, &err), 0, "%s", err.msg);
    ax_conv2d_shape s = {.batch = 1, .in_h = 4, .in_w = 4, .in_c = 2, .out_c = 2, .kernel_h = 3, .kernel_w = 3,
                         .stride_h = 1, .stride_w = 1, .dilation_h = 1, .dilation_w = 1, .groups = 1};
    uint8_t X[32] = {0}, W[36] = {0};
    int32_t Y[32];
    ax_conv2d_weights *cw = NULL;
    cr_assert_eq(ax_conv2d_pack_weights(p, &s, W, &cw, &err), 0, "%s", err.msg);
    cr_assert_eq(ax_conv2d(p, &s, X, cw, Y, false, 1, &err), 0, "%s", err.msg);
    ax_conv2d_shape t = s;
    t.pad_byte = 7; /* another zero point: another layer */
    cr_assert_eq(ax_conv2d(p, &t, X, cw, Y, false, 1, &err), -1);
    cr_assert(strstr(err.msg, "packed"), "%s", err.msg);
    t = s;
    t.batch = 0; /* no rows: no im2col chunks */
    cr_assert_eq(ax_conv2d(p, &t, X, cw, Y, false, 1, &err), 0, "%s", err.msg);
    ax_conv2d_weights_free(cw);
    ax_gemm_plan_free(p);
    ax_mult_free(m);
}

/* One product at INT32_MAX / 18 (bound K = 18), the rest small: a dense 1x1
 * layer of 18 input channels, a 3x3 layer of 2 channels per group and a 3x3
 * depthwise one at stride 2 (K = 9) run bit-exactly with every product at
 * the extreme (sums at the edge of int32); 19 channels, and a 19x1
 * depthwise kernel, are refused. */
Test(conv, bound)
{
    ax_mult *m = ax_mult_new();
    m->act = m->wgt = AX_U8;
    snprintf(m->name, sizeof m->name, "bound-18");
    for (unsigned i = 0; i < AX_TABLE_SIZE; i++) m->table[i] = (int32_t)(rnd() % 200) - 100;
    m->table[0] = INT32_MAX / 18;
    const ax_conv2d_shape ok[] = {
        {.batch = 2, .in_h = 3, .in_w = 5, .in_c = 18, .out_c = 3, .kernel_h = 1, .kernel_w = 1, .stride_h = 1,
         .stride_w = 1, .dilation_h = 1, .dilation_w = 1, .groups = 1},
        {.batch = 1, .in_h = 6, .in_w = 7, .in_c = 4, .out_c = 4, .kernel_h = 3, .kernel_w = 3, .stride_h = 1,
         .stride_w = 1, .dilation_h = 1, .dilation_w = 1, .pad_top = 1, .pad_left = 1, .pad_bottom = 1,
         .pad_right = 1, .groups = 2},
        {.batch = 2, .in_h = 7, .in_w = 6, .in_c = 5, .out_c = 5, .kernel_h = 3, .kernel_w = 3, .stride_h = 2,
         .stride_w = 2, .dilation_h = 1, .dilation_w = 1, .pad_top = 1, .pad_left = 1, .pad_bottom = 1,
         .pad_right = 1, .groups = 5}}; /* depthwise 3x3: K = 9 */
    ax_conv2d_shape no[] = {ok[0], ok[1], ok[1]};
    no[0].in_c = 19;
    no[1].in_c = no[1].out_c = no[1].groups = 3, no[1].kernel_h = 19, no[1].in_h = 19, no[1].pad_top = 0;
    no[2] = no[1];
    for (ax_isa isa = AX_ISA_SCALAR; isa <= AX_ISA_NEON; isa++) {
        if (!ax_cpu_supports(isa)) continue;
        ax_gemm_plan *p = NULL;
        ax_error err = {{0}};
        cr_assert_eq(ax_gemm_plan_create(m, isa, AX_PATH_LUT, &p, &err), 0, "%s", err.msg);
        cr_assert_eq(ax_gemm_plan_max_k(p, 0), 18);
        for (int i = 0; i < 3; i++) {
            size_t oh, ow;
            cr_assert_eq(ax_conv2d_output_size(&ok[i], &oh, &ow, &err), 0, "%s", err.msg);
            const ax_conv2d_shape *s = &ok[i];
            size_t nx = s->batch * s->in_h * s->in_w * s->in_c, ny = s->batch * oh * ow * s->out_c;
            size_t nw = s->kernel_h * s->kernel_w * (s->in_c / s->groups) * s->out_c;
            uint8_t *X = calloc(nx, 1), *W = calloc(nw, 1); /* every product T[0][0] */
            int32_t *want = calloc(ny, 4), *got = calloc(ny, 4);
            ax_conv2d_reference(m->table, s, X, W, want, false);
            cr_assert_eq(want[ny - 1], (int32_t)(nw / s->out_c * (INT32_MAX / 18))); /* K products */
            ax_conv2d_weights *cw = NULL;
            cr_assert_eq(ax_conv2d_pack_weights(p, s, W, &cw, &err), 0, "%s", err.msg);
            for (int threads = 1; threads <= 3; threads++) {
                cr_assert_eq(ax_conv2d(p, s, X, cw, got, false, threads, &err), 0, "%s", err.msg);
                cr_assert_arr_eq(got, want, ny * 4, "%s case %d threads %d", ax_gemm_plan_kernel_name(p), i, threads);
            }
            ax_conv2d_weights_free(cw);
            free(W);
            W = calloc(no[i].kernel_h * no[i].kernel_w * (no[i].in_c / no[i].groups) * no[i].out_c, 1);
            cr_assert_eq(ax_conv2d_pack_weights(p, &no[i], W, &cw, &err), -1, "case %d", i);
            cr_assert_null(cw);
            cr_assert(strstr(err.msg, "largest exact K is 18"), "%s", err.msg);
            free(X), free(W), free(want), free(got);
        }
        ax_gemm_plan_free(p);
    }
    ax_mult_free(m);
}
