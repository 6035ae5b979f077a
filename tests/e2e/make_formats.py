#!/usr/bin/python3
"""Writes the photo files the page's format tests drop: a WebP, a 12-Mpixel JPEG, a JPEG
cut short, an SVG drawing and a HEIC-branded file, made from a photo.
Usage: make_formats.py PHOTO OUT_DIR"""
import io
import os
import sys

from PIL import Image

src, out = sys.argv[1], sys.argv[2]
photo = Image.open(src).convert("RGB")
photo.save(os.path.join(out, "photo.webp"), "WEBP", quality=90)
photo.resize((4000, 3000), Image.BICUBIC).save(os.path.join(out, "large.jpg"), "JPEG", quality=90)
buf = io.BytesIO()
photo.save(buf, "JPEG", quality=90)
data = buf.getvalue()
with open(os.path.join(out, "cut.jpg"), "wb") as f:  # the first 60%: the browser shows the top rows
    f.write(data[:len(data) * 6 // 10])
with open(os.path.join(out, "drawing.svg"), "w") as f:
    f.write('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 400 300"><rect width="400" height="300" fill="#6aa"/>'
            '<circle cx="200" cy="150" r="90" fill="#c33"/></svg>')
with open(os.path.join(out, "photo.heic"), "wb") as f:  # an ISO-BMFF header with the HEIC brand; no decoder reads it
    f.write(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64))
