#!/usr/bin/python3
"""`capt decode` against Pillow: lossless formats (PNG 8/16-bit, gray, alpha, BMP, GIF)
decode to the same pixels (alpha composited over white as docs/mobilenet_v2.md says); JPEG
within a level on average (stb_image and libjpeg-turbo round differently); EXIF
orientations 1-8 come out upright like ImageOps.exif_transpose; resizing matches
Image.resize(BILINEAR) and Image.resize(BICUBIC) exactly. Usage: test_image_pil.py CAPT_COMMAND..."""
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image, ImageOps

HERE = os.path.dirname(os.path.abspath(__file__))
ASSETS = os.environ.get("CAPT_ASSETS", os.path.join(HERE, "..", "..", "shared"))
CMD = sys.argv[1:]
failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
    print("%s %s" % ("ok  " if cond else "FAIL", what))


def capt_decode(path, tmp, size=None, filter="bilinear"):
    out = os.path.join(tmp, "out.ppm")
    args = CMD + ["decode", path, out] + (["--size", "%dx%d" % size, "--filter", filter] if size else [])
    r = subprocess.run(args, capture_output=True, text=True, timeout=300)
    if r.returncode:
        return None, r.stderr.strip()
    return np.asarray(Image.open(out).convert("RGB"), dtype=np.int32), ""


def over_white(im):
    rgba = np.asarray(im.convert("RGBA"), dtype=np.int32)
    a = rgba[..., 3:4]
    return (rgba[..., :3] * a + 255 * (255 - a) + 127) // 255


with tempfile.TemporaryDirectory() as tmp:
    rng = np.random.default_rng(1)
    base = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    cases = {
        "rgb.png": Image.fromarray(base),
        "gray.png": Image.fromarray(base[..., 0]),
        "rgba.png": Image.fromarray(np.dstack([base, rng.integers(0, 256, (37, 53), dtype=np.uint8)])),
        "gray_alpha.png": Image.fromarray(np.dstack([base[..., 0], base[..., 1]])).convert("LA"),
        "rgb.bmp": Image.fromarray(base),
        "palette.gif": Image.fromarray(base).quantize(64),
    }
    for name, im in cases.items():
        path = os.path.join(tmp, name)
        im.save(path)
        got, err = capt_decode(path, tmp)
        want = over_white(Image.open(path))
        check(got is not None and got.shape == want.shape and np.array_equal(got, want), "%s decodes exactly %s" % (
            name, err))
    # 16-bit PNG: stb keeps the high byte.
    path16 = os.path.join(tmp, "deep.png")
    deep = (base[..., 0].astype(np.uint16) << 8) | 0x80
    Image.fromarray(deep, mode="I;16").save(path16)
    got, err = capt_decode(path16, tmp)
    check(got is not None and np.array_equal(got[..., 0], base[..., 0]), "16-bit PNG %s" % err)

    # JPEG: within a level on average of libjpeg-turbo.
    for name in ("rocket.jpg",):
        path = os.path.join(ASSETS, "data", "photos", name)
        got, err = capt_decode(path, tmp)
        want = np.asarray(Image.open(path).convert("RGB"), dtype=np.int32)
        diff = np.abs(got - want) if got is not None else None
        check(got is not None and diff.mean() < 0.5 and diff.max() <= 8,
              "%s: mean |stb - libjpeg| %.3f, max %d" % (name, diff.mean(), diff.max()) if got is not None else err)

    # EXIF orientation: a picture with distinct quadrants, saved with each orientation.
    quad = np.zeros((40, 64, 3), np.uint8)
    quad[:20, :32] = (255, 0, 0)
    quad[:20, 32:] = (0, 255, 0)
    quad[20:, :32] = (0, 0, 255)
    quad[20:, 32:] = (255, 255, 0)
    for o in range(1, 9):
        path = os.path.join(tmp, "o%d.jpg" % o)
        exif = Image.Exif()
        exif[0x0112] = o
        Image.fromarray(quad).save(path, quality=95, exif=exif)
        got, err = capt_decode(path, tmp)
        want = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"), dtype=np.int32)
        ok = got is not None and got.shape == want.shape and np.abs(got - want).mean() < 2
        check(ok, "EXIF orientation %d -> %s" % (o, "x".join(map(str, got.shape[:2])) if got is not None else err))

    # Resizing: exactly Pillow's BILINEAR and BICUBIC, up and down, on photos and odd sizes.
    for name, size in (("chelsea.png", (224, 224)), ("coffee.png", (97, 301)), ("astronaut.png", (1000, 13)),
                       ("chelsea.png", (1, 1)), ("coffee.png", (336, 224))):
        path = os.path.join(ASSETS, "data", "photos", name)
        for filter, pil in (("bilinear", Image.BILINEAR), ("bicubic", Image.BICUBIC)):
            got, err = capt_decode(path, tmp, size, filter)
            want = np.asarray(Image.open(path).convert("RGB").resize(size, pil), dtype=np.int32)
            check(got is not None and np.array_equal(got, want),
                  "%s resized to %dx%d (%s) matches Pillow" % (name, *size, filter))

print("image vs Pillow: %d failed" % failures)
sys.exit(1 if failures else 0)
