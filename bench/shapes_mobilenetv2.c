/* shapes_mobilenetv2.c - every distinct conv/FC layer of torchvision's
 * MobileNetV2 (width 1.0, 224x224), with how many layers of the network
 * share its shape. Inverted residual blocks features.1-17: conv.0.0 expands
 * (1x1), conv.1.0 is the 3x3 depthwise conv, conv.2 projects (1x1);
 * features.1 has no expansion (conv.0.0 depthwise, conv.1 projection).
 * Multiplicities sum to 35 dense convs + 17 depthwise convs + 1 FC. */
#include "bench.h"

const bench_layer bench_mobilenetv2[] = {
    /* name                                h    w  c_in c_out  k  s    g  mult */
    {"mobilenetv2.features.0.0",         224, 224,    3,   32, 3, 2,   1, 1, false},
    {"mobilenetv2.features.1.conv.1",    112, 112,   32,   16, 1, 1,   1, 1, false},
    {"mobilenetv2.features.2.conv.0.0",  112, 112,   16,   96, 1, 1,   1, 1, false},
    {"mobilenetv2.features.2.conv.2",     56,  56,   96,   24, 1, 1,   1, 1, false},
    {"mobilenetv2.features.3.conv.0.0",   56,  56,   24,  144, 1, 1,   1, 2, false}, /* + 4 */
    {"mobilenetv2.features.3.conv.2",     56,  56,  144,   24, 1, 1,   1, 1, false},
    {"mobilenetv2.features.4.conv.2",     28,  28,  144,   32, 1, 1,   1, 1, false},
    {"mobilenetv2.features.5.conv.0.0",   28,  28,   32,  192, 1, 1,   1, 3, false}, /* + 6, 7 */
    {"mobilenetv2.features.5.conv.2",     28,  28,  192,   32, 1, 1,   1, 2, false}, /* + 6 */
    {"mobilenetv2.features.7.conv.2",     14,  14,  192,   64, 1, 1,   1, 1, false},
    {"mobilenetv2.features.8.conv.0.0",   14,  14,   64,  384, 1, 1,   1, 4, false}, /* + 9, 10, 11 */
    {"mobilenetv2.features.8.conv.2",     14,  14,  384,   64, 1, 1,   1, 3, false}, /* + 9, 10 */
    {"mobilenetv2.features.11.conv.2",    14,  14,  384,   96, 1, 1,   1, 1, false},
    {"mobilenetv2.features.12.conv.0.0",  14,  14,   96,  576, 1, 1,   1, 3, false}, /* + 13, 14 */
    {"mobilenetv2.features.12.conv.2",    14,  14,  576,   96, 1, 1,   1, 2, false}, /* + 13 */
    {"mobilenetv2.features.14.conv.2",     7,   7,  576,  160, 1, 1,   1, 1, false},
    {"mobilenetv2.features.15.conv.0.0",   7,   7,  160,  960, 1, 1,   1, 3, false}, /* + 16, 17 */
    {"mobilenetv2.features.15.conv.2",      7,   7,  960,  160, 1, 1,   1, 2, false}, /* + 16 */
    {"mobilenetv2.features.17.conv.2",      7,   7,  960,  320, 1, 1,   1, 1, false},
    {"mobilenetv2.features.18.0",          7,   7,  320, 1280, 1, 1,   1, 1, false},
    {"mobilenetv2.classifier.1",           1,   1, 1280, 1000, 1, 1,   1, 1, false},
    /* depthwise 3x3 convs, kept apart: C GEMMs with N = 1, K = 9 */
    {"mobilenetv2.features.1.conv.0.0",  112, 112,   32,   32, 3, 1,  32, 1, false},
    {"mobilenetv2.features.2.conv.1.0",  112, 112,   96,   96, 3, 2,  96, 1, false},
    {"mobilenetv2.features.3.conv.1.0",   56,  56,  144,  144, 3, 1, 144, 1, false},
    {"mobilenetv2.features.4.conv.1.0",   56,  56,  144,  144, 3, 2, 144, 1, false},
    {"mobilenetv2.features.5.conv.1.0",   28,  28,  192,  192, 3, 1, 192, 2, false}, /* + 6 */
    {"mobilenetv2.features.7.conv.1.0",   28,  28,  192,  192, 3, 2, 192, 1, false},
    {"mobilenetv2.features.8.conv.1.0",   14,  14,  384,  384, 3, 1, 384, 4, false}, /* + 9, 10, 11 */
    {"mobilenetv2.features.12.conv.1.0",  14,  14,  576,  576, 3, 1, 576, 2, false}, /* + 13 */
    {"mobilenetv2.features.14.conv.1.0",  14,  14,  576,  576, 3, 2, 576, 1, false},
    {"mobilenetv2.features.15.conv.1.0",   7,   7,  960,  960, 3, 1, 960, 3, false}, /* + 16, 17 */
};
const size_t bench_mobilenetv2_count = sizeof bench_mobilenetv2 / sizeof bench_mobilenetv2[0];
