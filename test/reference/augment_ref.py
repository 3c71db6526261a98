#!/usr/bin/env python3
"""torchvision's functional transforms on PIL images: the reference for alexc's augmentation.

stdin: JSON {"rows": R, "cols": C, "cases": [{"image": [R*C uint8], "op": ..., ...}]}, one case per
op with its parameters given (alexc draws them; only the pixel work is compared):
  crop     padding, top, left   F.crop(F.pad(img, padding, fill=0), top, left, R, C)
  hflip                         F.hflip(img)
  brightness factor             F.adjust_brightness(img, factor)   (PIL ImageEnhance.Brightness)
  contrast factor               F.adjust_contrast(img, factor)     (PIL ImageEnhance.Contrast)
  erase    top, left, height, width   F.erase(to_tensor(img), ..., v=0), back to uint8
stdout: JSON {"images": [[R*C uint8], ...]} in case order.
"""
import json
import sys

import numpy as np
import torchvision.transforms.functional as F
from PIL import Image


def apply(img, case, rows, cols):
    op = case["op"]
    if op == "crop":
        p = case["padding"]
        return F.crop(F.pad(img, p, fill=0), case["top"], case["left"], rows, cols)
    if op == "hflip":
        return F.hflip(img)
    if op == "brightness":
        return F.adjust_brightness(img, case["factor"])
    if op == "contrast":
        return F.adjust_contrast(img, case["factor"])
    if op == "erase":
        t = F.erase(F.pil_to_tensor(img), case["top"], case["left"], case["height"], case["width"], v=0)
        return F.to_pil_image(t)
    raise SystemExit(f"augment_ref.py: unknown op {op}")


def main():
    spec = json.load(sys.stdin)
    rows, cols = spec["rows"], spec["cols"]
    out = []
    for case in spec["cases"]:
        img = Image.fromarray(np.asarray(case["image"], dtype=np.uint8).reshape(rows, cols), mode="L")
        out.append(np.asarray(apply(img, case, rows, cols), dtype=np.uint8).reshape(-1).tolist())
    json.dump({"images": out}, sys.stdout)


if __name__ == "__main__":
    main()
