#!/usr/bin/python3
"""PNG test images and what PIL (Pillow, Debian python3-pil) makes of them, for alexc predict.

  png_cases.py OUTDIR

Writes OUTDIR/<case>.png and, per case, the references PIL computes from that file:
  <case>.L.npy     uint8 [h, w]      Image.open(f).convert("L")  (16-bit cases: the 8-bit source)
  <case>.RGB.npy   uint8 [h, w, 3]   Image.open(f).convert("RGB") (colour cases only)
  <case>.r28.npy   float32 [28, 28]  convert("L").resize((28, 28), BILINEAR) / 255
  <case>.r224.npy  float32 [224, 224] the same at 224 (torchvision Resize + ToTensor on PIL images)
and prints a JSON list of the cases. Sources are FashionMNIST test images (Debian
dataset-fashion-mnist). PIL writes most files; interlaced files and files using every scanline
filter are written by the small encoder below (PIL writes neither), and PIL decodes them.
"""

import gzip
import json
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image

DATA = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"


def test_images():
    with gzip.open(DATA) as f:
        return np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)


def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def filter_rows(rows, bpp):
    """Filters each scanline with type (row index mod 5): None, Sub, Up, Average, Paeth."""
    out, prev = b"", bytes(len(rows[0]))
    for r, line in enumerate(rows):
        kind = r % 5
        f = bytearray()
        for i, x in enumerate(line):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][kind]
            f.append((x - pred) & 0xFF)
        out += bytes([kind]) + bytes(f)
        prev = line
    return out


def write_png(path, pixels, colour, interlace):
    """pixels: uint8 [h, w, samples]; colour 0 (grey) or 2 (RGB) or 6 (RGBA); 8-bit."""
    h, w, s = pixels.shape
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)] if interlace else [(0, 0, 1, 1)]
    raw = b""
    for x0, y0, dx, dy in passes:
        sub = pixels[y0::dy, x0::dx]
        if sub.shape[0] == 0 or sub.shape[1] == 0:
            continue
        raw += filter_rows([bytes(row.reshape(-1)) for row in sub], s)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 1 if interlace else 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def main(out):
    imgs = test_images()
    cases = []

    def add(name, label, colour=False, grey8=None):
        f = os.path.join(out, name + ".png")
        im = Image.open(f)
        L = im.convert("L")
        np.save(os.path.join(out, name + ".L.npy"), grey8 if grey8 is not None else np.asarray(L))
        if colour:
            np.save(os.path.join(out, name + ".RGB.npy"), np.asarray(im.convert("RGB")))
        for size in (28, 224):
            src = Image.fromarray(grey8) if grey8 is not None else L
            r = np.asarray(src.resize((size, size), Image.BILINEAR), dtype=np.float32) / 255
            np.save(os.path.join(out, "%s.r%d.npy" % (name, size)), r)
        cases.append({"name": name, "label": label, "mode": im.mode, "size": list(im.size), "colour": colour})

    for i in range(4):  # plain 8-bit grey, 28x28: the data set's own images
        Image.fromarray(imgs[i]).save(os.path.join(out, "grey%d.png" % i))
        add("grey%d" % i, i)
    tint = np.stack([imgs[4], (imgs[4] * 0.6).astype(np.uint8), 255 - imgs[4]], axis=-1)
    Image.fromarray(tint).resize((100, 90), Image.BILINEAR).save(os.path.join(out, "rgb-100x90.png"))
    add("rgb-100x90", 4, colour=True)
    rgba = np.concatenate([tint, np.full((28, 28, 1), 200, np.uint8)], axis=-1)
    Image.fromarray(rgba).resize((40, 40), Image.BILINEAR).save(os.path.join(out, "rgba-40.png"))
    add("rgba-40", 4, colour=True)
    Image.fromarray(tint).convert("P", palette=Image.ADAPTIVE, colors=64).save(os.path.join(out, "palette.png"))
    add("palette", 4, colour=True)
    Image.fromarray(imgs[5] > 100).save(os.path.join(out, "bilevel.png"))  # mode "1": 1-bit grey
    add("bilevel", 5)
    # 16-bit grey: the source's v becomes v*257; its high byte is v again (PIL clips instead, so the reference is the source)
    Image.fromarray(imgs[6].astype(np.uint16) * 257).save(os.path.join(out, "grey16.png"))
    add("grey16", 6, grey8=imgs[6])
    write_png(os.path.join(out, "interlaced-rgb.png"), np.asarray(Image.fromarray(tint).resize((37, 29))), 2, True)
    add("interlaced-rgb", 4, colour=True)
    write_png(os.path.join(out, "filters-grey.png"), imgs[7][:, :, None], 0, False)
    add("filters-grey", 7)
    write_png(os.path.join(out, "interlaced-rgba.png"), rgba, 6, True)
    add("interlaced-rgba", 4, colour=True)
    print(json.dumps(cases))


if __name__ == "__main__":
    main(sys.argv[1])
