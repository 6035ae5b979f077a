#!/usr/bin/python3
"""Writes a YUV4MPEG2 (C420jpeg) clip of a photo, for Chromium's fake camera
(--use-file-for-fake-video-capture). Usage: make_y4m.py PHOTO OUT.y4m [WIDTH HEIGHT]"""
import sys

import numpy as np
from PIL import Image

src, out = sys.argv[1], sys.argv[2]
w, h = (int(sys.argv[3]), int(sys.argv[4])) if len(sys.argv) > 4 else (640, 480)
rgb = np.asarray(Image.open(src).convert("RGB").resize((w, h), Image.BILINEAR), dtype=np.float32)
r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
y = 0.299 * r + 0.587 * g + 0.114 * b          # full-range BT.601 (JPEG)
cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b
sub = lambda c: c.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))  # noqa: E731
planes = [np.clip(np.rint(p), 0, 255).astype(np.uint8) for p in (y, sub(cb), sub(cr))]
with open(out, "wb") as f:
    f.write(b"YUV4MPEG2 W%d H%d F30:1 Ip A1:1 C420jpeg\n" % (w, h))
    for _ in range(2):
        f.write(b"FRAME\n")
        for p in planes:
            f.write(p.tobytes())
