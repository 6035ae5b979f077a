#!/usr/bin/python3
"""Hostile images through `capt caption`, each answered with a caption or a clear error,
with the peak memory of the process measured (docs/mobilenet_v2.md, "Image input"):
16-bit PNG, CMYK JPEG, 12-bit JPEG, GIFs whose screen or frame is huge, a PNG that
inflates to the pixel limit, a header that claims 100000 x 100000 pixels.
Usage: test_hostile_images.py MODEL.capt CAPT_BINARY"""
import io
import os
import struct
import subprocess
import sys
import tempfile
import zlib

import numpy as np
from PIL import Image

model, capt = sys.argv[1], sys.argv[2]
ASSETS = os.environ.get("CAPT_ASSETS", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared"))
photo = Image.open(os.path.join(ASSETS, "data", "photos", "chelsea.png")).convert("RGB")
failures = 0


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def grey_png(width, height):
    """A valid 8-bit grey PNG of zeros (deflates to almost nothing)."""
    rows = zlib.compressobj(9)
    body = b"".join(rows.compress(bytes(width + 1)) for _ in range(height)) + rows.flush()
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + png_chunk(b"IDAT", body) + png_chunk(b"IEND", b""))


def gif(screen, frame):
    """A GIF with a logical screen of `screen` pixels and one all-zero frame of `frame` pixels."""
    buf = io.BytesIO()
    Image.new("P", frame).save(buf, "GIF")
    data = bytearray(buf.getvalue())
    data[6:10] = struct.pack("<HH", *screen)
    return bytes(data)


def jpeg(image, **kw):
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=90, **kw)
    return buf.getvalue()


def twelve_bit(data):
    """The photo's JPEG with its frame header saying 12 bits per sample."""
    data = bytearray(data)
    at = data.index(b"\xff\xc0")
    data[at + 4] = 12
    return bytes(data)


sixteen = io.BytesIO()
Image.fromarray((np.asarray(photo.convert("L"), dtype=np.uint16) * 257), "I;16").save(sixteen, "PNG")
cases = [  # name, bytes, "caption" or the error's words, peak RSS bound in MB
    ("16-bit grey PNG", sixteen.getvalue(), "caption", 300),
    ("CMYK JPEG", jpeg(photo.convert("CMYK")), "caption", 300),
    ("12-bit JPEG", twelve_bit(jpeg(photo)), "a 12-bit JPEG; only 8-bit JPEGs are supported", 300),
    ("GIF, 65535x65535 screen", gif((65535, 65535), (8, 8)), "a side of 65535 pixels", 300),
    ("GIF, 8000x8000 frame (61 Mpixel)", gif((8000, 8000), (8000, 8000)), "caption", 600),
    ("PNG inflating to 8000x8000 (61 Mpixel)", grey_png(8000, 8000), "caption", 600),
    ("PNG header of 100000x100000", grey_png(1, 1)[:16] + struct.pack(">II", 100000, 100000) + grey_png(1, 1)[24:],
     "a side of 100000 pixels", 300),
]
with tempfile.TemporaryDirectory() as tmp:
    for i, (name, data, want, bound) in enumerate(cases):
        path = os.path.join(tmp, "case%d" % i)
        with open(path, "wb") as f:
            f.write(data)
        with open(path + ".out", "w+") as out, open(path + ".err", "w+") as err:
            proc = subprocess.Popen([capt, "caption", "--model", model, path], stdout=out, stderr=err)
            _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak RSS
            proc.returncode = os.waitstatus_to_exitcode(status)
            out.seek(0), err.seek(0)
            out, err = out.read(), err.read()
        peak = usage.ru_maxrss / 1024
        text = out.strip().split("\t", 1)[-1]
        if want == "caption":
            ok = proc.returncode == 0 and len(text.split()) >= 3
        else:
            ok = proc.returncode == 1 and want in out + err
        ok = ok and peak <= bound
        print("%s %-40s %6d bytes, peak RSS %4.0f MB (<= %d): %s" % ("ok  " if ok else "FAIL", name, len(data), peak,
                                                                    bound, text[:100]))
        failures += not ok
print("%d failed" % failures)
sys.exit(1 if failures else 0)
