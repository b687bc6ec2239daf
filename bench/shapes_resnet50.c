/* shapes_resnet50.c - every distinct conv/FC layer of torchvision's
 * ResNet-50 (v1.5: the stride sits on the 3x3 conv of a bottleneck) at
 * 224x224, with how many layers of the network share its shape. Input sizes
 * are those the layer sees; padding is kernel/2. Multiplicities sum to the
 * network's 53 convs + 1 FC. */
#include "bench.h"

const bench_layer bench_resnet50[] = {
    /* name                             h    w  c_in c_out  k  s  g  mult quick */
    {"resnet50.conv1",                224, 224,    3,   64, 7, 2, 1, 1, true},
    /* layer1: 3 bottlenecks, 56x56, 64 -> 256 */
    {"resnet50.layer1.0.conv1",        56,  56,   64,   64, 1, 1, 1, 1, false},
    {"resnet50.layer1.0.conv2",        56,  56,   64,   64, 3, 1, 1, 3, true},
    {"resnet50.layer1.0.conv3",        56,  56,   64,  256, 1, 1, 1, 4, false}, /* + downsample.0 */
    {"resnet50.layer1.1.conv1",        56,  56,  256,   64, 1, 1, 1, 2, false},
    /* layer2: 4 bottlenecks, 28x28, 128 -> 512 */
    {"resnet50.layer2.0.conv1",        56,  56,  256,  128, 1, 1, 1, 1, false},
    {"resnet50.layer2.0.conv2",        56,  56,  128,  128, 3, 2, 1, 1, true},
    {"resnet50.layer2.0.conv3",        28,  28,  128,  512, 1, 1, 1, 4, false},
    {"resnet50.layer2.0.downsample.0", 56,  56,  256,  512, 1, 2, 1, 1, false},
    {"resnet50.layer2.1.conv1",        28,  28,  512,  128, 1, 1, 1, 3, false},
    {"resnet50.layer2.1.conv2",        28,  28,  128,  128, 3, 1, 1, 3, false},
    /* layer3: 6 bottlenecks, 14x14, 256 -> 1024 */
    {"resnet50.layer3.0.conv1",        28,  28,  512,  256, 1, 1, 1, 1, false},
    {"resnet50.layer3.0.conv2",        28,  28,  256,  256, 3, 2, 1, 1, false},
    {"resnet50.layer3.0.conv3",        14,  14,  256, 1024, 1, 1, 1, 6, false},
    {"resnet50.layer3.0.downsample.0", 28,  28,  512, 1024, 1, 2, 1, 1, false},
    {"resnet50.layer3.1.conv1",        14,  14, 1024,  256, 1, 1, 1, 5, true},
    {"resnet50.layer3.1.conv2",        14,  14,  256,  256, 3, 1, 1, 5, false},
    /* layer4: 3 bottlenecks, 7x7, 512 -> 2048 */
    {"resnet50.layer4.0.conv1",        14,  14, 1024,  512, 1, 1, 1, 1, false},
    {"resnet50.layer4.0.conv2",        14,  14,  512,  512, 3, 2, 1, 1, false},
    {"resnet50.layer4.0.conv3",         7,   7,  512, 2048, 1, 1, 1, 3, false},
    {"resnet50.layer4.0.downsample.0", 14,  14, 1024, 2048, 1, 2, 1, 1, false},
    {"resnet50.layer4.1.conv1",         7,   7, 2048,  512, 1, 1, 1, 2, false},
    {"resnet50.layer4.1.conv2",         7,   7,  512,  512, 3, 1, 1, 2, true},
    {"resnet50.fc",                     1,   1, 2048, 1000, 1, 1, 1, 1, true},
};
const size_t bench_resnet50_count = sizeof bench_resnet50 / sizeof bench_resnet50[0];
