#!/usr/bin/python3
"""make_preprocess_golden.py - what Pillow 9.4 and torchvision 0.14 make of
images, for tests/test_source.c to check data/ against, byte for byte.

Run with Debian's /usr/bin/python3 (python3-pil, python3-torchvision):
  /usr/bin/python3 tools/scripts/make_preprocess_golden.py [PHOTO_DIR]
Writes tests/fixtures/preprocess/:
  resize.txt + resize.bin.gz   synthetic RGB images (the generator below, which
      the C test repeats) through Resize(r) + CenterCrop(c) on PIL images:
      "name w h resize crop out_w out_h offset|- sha256" per line
      (offset into the .bin, or '-' when only the hash is kept; resize -1:
      Image.resize((out_w, out_h), BILINEAR) alone);
  *.jpg + jpeg.txt + jpeg.bin.gz   small JPEGs (4:2:0, 4:2:2, 4:4:4,
      progressive, grayscale, CMYK, YCCK, odd sizes) and Pillow's
      Image.open(f).convert('RGB') of each: "file w h offset sha256";
  photos.txt + photos.bin.gz   the photographs of PHOTO_DIR (default
      ~/.cache/autoapprox/photos, filled by tools/setup.sh from Debian's
      python3-sklearn) through the ImageNet evaluation transform:
      "file sha256-of-jpeg w h offset sha256-of-u8 sha256-of-float32".
"""
import ctypes
import gzip
import hashlib
import io
import os
import sys

import numpy as np
import torch
from PIL import Image
from torchvision import transforms

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "tests", "fixtures", "preprocess")

# (w, h, resize, crop, keep bytes): downscale, upscale, odd sizes, tall and
# wide, 1 x N, identity resize with odd crops (round half to even), a crop
# larger than the image (zero padding), and ImageNet's 256/224.
RESIZE_CASES = [
    (50, 37, 32, 28, True), (37, 50, 32, 28, True), (300, 7, 5, 5, True),
    (1, 20, 8, 0, True), (20, 1, 8, 8, True), (5, 5, 17, 0, True),
    (17, 23, 32, 28, True), (101, 99, 33, 33, True), (1000, 3, 2, 2, True),
    (64, 48, 48, 48, True), (65, 48, 48, 47, True), (49, 52, 49, 46, True),
    (10, 12, 10, 14, True), (13, 200, 9, 0, True), (333, 251, 64, 0, True),
    (640, 427, 256, 224, False), (427, 640, 256, 224, False), (500, 375, 256, 224, False),
    (257, 999, 256, 224, False), (200, 150, 256, 224, False),
]
# Image.resize((ow, oh), BILINEAR) alone (resize -1 in resize.txt): one pass
# only (a side keeps its size), both passes, upscaling from 1 x 1.
EXACT_CASES = [(50, 37, 50, 20), (50, 37, 20, 37), (7, 300, 3, 301), (40, 30, 97, 61), (1, 1, 5, 3),
               (300, 200, 299, 3)]


def pattern(w, h, c=3):
    """Smooth ramps plus hashed noise; tests/test_source.c computes the same."""
    x = np.arange(w, dtype=np.uint32)[None, :, None]
    y = np.arange(h, dtype=np.uint32)[:, None, None]
    ch = np.arange(c, dtype=np.uint32)[None, None, :]
    smooth = x * 200 // w + y * 55 // h
    noise = ((x * np.uint32(73856093)) ^ (y * np.uint32(19349663)) ^ ((ch + 1) * np.uint32(83492791))) >> 26
    return ((smooth + noise + ch * 40) & 255).astype(np.uint8)


def sha(b):
    return hashlib.sha256(b).hexdigest()


def transform(resize, crop):
    t = []
    if resize:
        t.append(transforms.Resize(resize))
    if crop:
        t.append(transforms.CenterCrop(crop))
    return transforms.Compose(t)


def resize_golden():
    lines, blob = [], bytearray()
    for (w, h, r, c, keep) in RESIZE_CASES:
        img = Image.fromarray(pattern(w, h), "RGB")
        out = np.asarray(transform(r, c)(img), dtype=np.uint8)
        oh, ow = out.shape[:2]
        b = out.tobytes()
        off = str(len(blob)) if keep else "-"
        if keep:
            blob += b
        lines.append(f"p{w}x{h}_{r}_{c} {w} {h} {r} {c} {ow} {oh} {off} {sha(b)}")
    for (w, h, ow, oh) in EXACT_CASES:
        out = np.asarray(Image.fromarray(pattern(w, h), "RGB").resize((ow, oh), Image.BILINEAR), dtype=np.uint8)
        b = out.tobytes()
        lines.append(f"r{w}x{h}_{ow}x{oh} {w} {h} -1 0 {ow} {oh} {len(blob)} {sha(b)}")
        blob += b
    write("resize", lines, blob)


def ycck_jpeg(cmyk):
    """CMYK pixels compressed by TurboJPEG, which stores them as YCCK."""
    tj = ctypes.CDLL("libturbojpeg.so.0")
    tj.tjInitCompress.restype = ctypes.c_void_p
    h = tj.tjInitCompress()
    buf, size = ctypes.POINTER(ctypes.c_ubyte)(), ctypes.c_ulong(0)
    hh, ww = cmyk.shape[:2]
    src = np.ascontiguousarray(cmyk)
    rc = tj.tjCompress2(ctypes.c_void_p(h), src.ctypes.data_as(ctypes.c_void_p), ww, 0, hh, 11,  # TJPF_CMYK
                        ctypes.byref(buf), ctypes.byref(size), 2, 85, 0)  # TJSAMP_420, quality 85
    assert rc == 0, "tjCompress2 failed"
    data = ctypes.string_at(buf, size.value)
    tj.tjFree(buf)
    tj.tjDestroy(ctypes.c_void_p(h))
    return data


def jpeg_golden():
    cases = []
    rgb = Image.fromarray(pattern(61, 47), "RGB")
    for name, kw in [("rgb420", dict(subsampling=2)), ("rgb422", dict(subsampling=1)),
                     ("rgb444", dict(subsampling=0)), ("progressive", dict(progressive=True))]:
        f = io.BytesIO()
        rgb.save(f, "JPEG", quality=88, **kw)
        cases.append((name + ".jpg", f.getvalue()))
    f = io.BytesIO()
    Image.fromarray(pattern(33, 17), "RGB").save(f, "JPEG", quality=75)
    cases.append(("odd33x17.jpg", f.getvalue()))
    f = io.BytesIO()
    Image.fromarray(pattern(40, 30, 1)[:, :, 0], "L").save(f, "JPEG", quality=90)
    cases.append(("gray.jpg", f.getvalue()))
    cmyk = pattern(36, 28, 4)
    f = io.BytesIO()
    Image.fromarray(cmyk, "CMYK").save(f, "JPEG", quality=90)  # Adobe marker, inverted
    cases.append(("cmyk.jpg", f.getvalue()))
    cases.append(("ycck.jpg", ycck_jpeg(cmyk)))
    lines, blob = [], bytearray()
    for name, data in cases:
        with open(os.path.join(OUT, name), "wb") as fh:
            fh.write(data)
        out = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.uint8)
        b = out.tobytes()
        lines.append(f"{name} {out.shape[1]} {out.shape[0]} {len(blob)} {sha(b)}")
        blob += b
    write("jpeg", lines, blob)


def photos_golden(d):
    u8 = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224)])
    norm = transforms.Compose([transforms.ToTensor(),
                               transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    lines, blob = [], bytearray()
    for name in sorted(os.listdir(d)):
        if not name.lower().endswith((".jpg", ".jpeg")):
            continue
        path = os.path.join(d, name)
        with open(path, "rb") as fh:
            src = fh.read()
        img = u8(Image.open(path).convert("RGB"))
        b = np.asarray(img, dtype=np.uint8).tobytes()
        f = norm(img).numpy().astype("<f4").tobytes()  # CHW, as the tensor
        lines.append(f"{name} {sha(src)} 224 224 {len(blob)} {sha(b)} {sha(f)}")
        blob += b
    if not lines:
        print(f"no photographs in {d}: photos.* not written", file=sys.stderr)
        return
    write("photos", lines, blob)


def write(base, lines, blob):
    with open(os.path.join(OUT, base + ".txt"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    with gzip.GzipFile(os.path.join(OUT, base + ".bin.gz"), "wb", mtime=0) as fh:
        fh.write(bytes(blob))


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    resize_golden()
    jpeg_golden()
    photos_golden(sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser("~/.cache/autoapprox/photos"))
    print("written:", ", ".join(sorted(os.listdir(OUT))))


if __name__ == "__main__":
    main()
