#!/usr/bin/python3
"""compare_export.py - `autoapprox data export` against torchvision.

  /usr/bin/python3 tools/scripts/compare_export.py OUT.npy FILE...

FILE... are the exported JPEGs in dataset order (their names, as export
lists them). Each goes through torchvision's evaluation transform on Pillow
(Resize(256), CenterCrop(224), ToTensor, Normalize with ImageNet's mean and
std); prints the largest absolute difference, in float and in 8-bit steps
after normalization (1/255/std), and how many values differ. Exit 0 when the
largest difference is within one 8-bit step, 1 otherwise, 77 when torchvision
is missing (a skip).
"""
import sys

try:
    import numpy as np
    import torch
    from PIL import Image
    from torchvision import transforms
except ImportError as e:
    print(f"compare_export: {e}: skipped", file=sys.stderr)
    sys.exit(77)

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    out = np.load(sys.argv[1])
    files = sys.argv[2:]
    if out.shape[0] != len(files):
        print(f"compare_export: {sys.argv[1]} holds {out.shape[0]} images, {len(files)} files given", file=sys.stderr)
        return 1
    t = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
                            transforms.Normalize(MEAN, STD)])
    step = np.array([1 / 255 / s for s in STD], dtype=np.float64)[:, None, None]
    worst, worst_steps, differing = 0.0, 0.0, 0
    for i, f in enumerate(files):
        ref = t(Image.open(f).convert("RGB")).numpy()
        d = np.abs(out[i].astype(np.float64) - ref.astype(np.float64))
        worst = max(worst, float(d.max()))
        worst_steps = max(worst_steps, float((d / step).max()))
        differing += int((d > 0).sum())
    print(f"{len(files)} images: max abs difference {worst:.9g} ({worst_steps:.4f} 8-bit steps), "
          f"{differing} of {out.size} values differ")
    return 0 if worst_steps <= 1.0 + 1e-6 else 1


if __name__ == "__main__":
    sys.exit(main())
