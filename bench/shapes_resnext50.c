/* shapes_resnext50.c - the distinct grouped 3x3 convolutions of
 * torchvision's resnext50_32x4d at 224x224 (32 groups, 4 channels per group
 * per 64 planes: a bottleneck of `planes` is int(planes * 4 / 64) * 32 wide,
 * 128 -> 1024 channels, 4 -> 32 channels per group), with how many layers of
 * the network share each shape. As in ResNet-50 v1.5 the stride sits on the
 * 3x3 conv of a stage's first block. The 1x1 convs and the FC are dense and
 * (but for their widths) ResNet-50's, so they are left out. */
#include "bench.h"

const bench_layer bench_resnext50[] = {
    /* name                              h   w  c_in c_out  k  s   g  mult quick */
    {"resnext50.layer1.0.conv2",        56, 56,  128,  128, 3, 1, 32, 3, false},
    {"resnext50.layer2.0.conv2",        56, 56,  256,  256, 3, 2, 32, 1, false},
    {"resnext50.layer2.1.conv2",        28, 28,  256,  256, 3, 1, 32, 3, false},
    {"resnext50.layer3.0.conv2",        28, 28,  512,  512, 3, 2, 32, 1, false},
    {"resnext50.layer3.1.conv2",        14, 14,  512,  512, 3, 1, 32, 5, false},
    {"resnext50.layer4.0.conv2",        14, 14, 1024, 1024, 3, 2, 32, 1, false},
    {"resnext50.layer4.1.conv2",         7,  7, 1024, 1024, 3, 1, 32, 2, false},
};
const size_t bench_resnext50_count = sizeof bench_resnext50 / sizeof bench_resnext50[0];
