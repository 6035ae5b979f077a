#!/usr/bin/python3
"""CLIP in capt against OpenAI's own code: tools/convert_clip.py turns the tiny ViT-B/32-
shaped checkpoint (../shared/reference/clip-tiny-b32) into .capt files, and `capt embed`
must reproduce golden.safetensors: image and text embeddings and logits_per_image within
1e-4 with f32 weights, cosine >= 0.999 with q8_0 and >= 0.99 with q4_0; the CLI's token
ids equal the golden ids. Also: preprocessing (shorter side to 224 with Pillow's BICUBIC,
centre crop rounded like torchvision) equals Pillow's pixels, `capt similarity` gives
probabilities, and bad input is refused with a message.
Usage: test_clip.py CAPT_COMMAND..."""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
from safetensors_io import read_safetensors  # noqa: E402

ASSETS = os.environ.get("CAPT_ASSETS", os.path.join(HERE, "..", "..", "shared"))
TINY = os.path.join(ASSETS, "reference", "clip-tiny-b32")
CMD = sys.argv[1:]
failures = 0


def check(cond, what):
    global failures
    failures += not cond
    print("%s %s" % ("ok  " if cond else "FAIL", what), flush=True)


def capt(*args):
    return subprocess.run(CMD + list(args), capture_output=True, text=True, timeout=600)


def capt_json(*args):
    r = capt(*args)
    if r.returncode:
        print("capt %s: %s" % (" ".join(args), r.stderr.strip()))
        return None
    return json.loads(r.stdout)


def cosine(a, b):
    return float(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b))


def torchvision_preprocess(path, size):
    """clip/clip.py's Resize(size, BICUBIC) + CenterCrop(size), in Pillow."""
    im = Image.open(path).convert("RGB")
    w, h = im.size
    short, long = min(w, h), max(w, h)
    new_long = int(size * long / short)
    nw, nh = (size, new_long) if w <= h else (new_long, size)
    im = im.resize((nw, nh), Image.BICUBIC)
    top, left = int(round((nh - size) / 2.0)), int(round((nw - size) / 2.0))
    return np.asarray(im.crop((left, top, left + size, top + size)), dtype=np.int32)


golden = read_safetensors(os.path.join(TINY, "golden.safetensors"))
texts = json.load(open(os.path.join(TINY, "golden.json")))["texts"]
scale = float(np.exp(read_safetensors(os.path.join(TINY, "model.safetensors"))["logit_scale"]))

with tempfile.TemporaryDirectory() as tmp:
    pixels = []
    for i, p in enumerate(golden["pixel_values"]):
        path = os.path.join(tmp, "pixels%d.f32" % i)
        np.asarray(p, dtype="<f4").tofile(path)
        pixels.append(path)

    # The tokenizer: the CLI's ids are the golden ids (start + BPE + end, zero padded).
    for text, want in zip(texts, golden["input_ids"]):
        r = capt("tokenize", text)
        ids = [49406] + [int(x) for x in r.stdout.split()] + [49407]
        want = [int(x) for x in want]
        check(r.returncode == 0 and ids == want[:len(ids)] and not any(want[len(ids):]), "ids of %r" % text)

    limits = {"f32": ("max abs", 1e-4), "q8_0": ("cosine", 0.999), "q4_0": ("cosine", 0.99)}
    for dtype, (kind, limit) in limits.items():
        model = os.path.join(tmp, "clip-%s.capt" % dtype)
        r = subprocess.run([sys.executable, os.path.join(HERE, "..", "tools", "convert_clip.py"), TINY, model,
                            "--dtype", dtype], capture_output=True, text=True)
        if r.returncode:
            check(False, "convert_clip --dtype %s: %s" % (dtype, r.stderr.strip()))
            continue
        images = [capt_json("embed", "--model", model, "--pixels", p) for p in pixels]
        txts = [capt_json("embed", "--model", model, "--text", t) for t in texts]
        if any(e is None for e in images + txts):
            check(False, "%s: every embedding computes" % dtype)
            continue
        images, txts = np.array(images), np.array(txts)
        logits = scale * np.array([[cosine(i, t) for t in txts] for i in images])
        for name, got, want in (("image_embeds", images, golden["image_embeds"]),
                                ("text_embeds", txts, golden["text_embeds"]),
                                ("logits_per_image", logits, golden["logits_per_image"])):
            err = float(np.abs(got - want).max())
            cos = min(cosine(g, w) for g, w in zip(got, want))
            ok = err <= limit if kind == "max abs" else cos >= limit
            check(ok, "%s %s: max abs %.2e, min cosine %.6f (limit: %s %g)" % (dtype, name, err, cos, kind, limit))

        if dtype == "q8_0":
            # Zero-shot through the image path: probabilities over texts sum to 1.
            photo = os.path.join(ASSETS, "data", "photos", "chelsea.png")
            sim = capt_json("similarity", "--json", "--model", model, photo, "a photo of a cat", "a photo of a dog")
            check(sim is not None and abs(sum(x["probability"] for x in sim["results"]) - 1) < 1e-6 and
                  abs(sim["logit_scale"] - scale) < 1e-4, "similarity --json gives probabilities")
            # Preprocessing: what the tower sees equals Pillow's resize + crop. PNG inputs
            # (identical decoding); odd sizes exercise the crop's half-pixel rounding.
            rng = np.random.default_rng(3)
            cases = [os.path.join(ASSETS, "data", "photos", n) for n in ("chelsea.png", "coffee.png", "astronaut.png")]
            for w, h in ((301, 457), (225, 300), (227, 400), (500, 229), (100, 90), (224, 224)):
                path = os.path.join(tmp, "r%dx%d.png" % (w, h))
                smooth = Image.fromarray(rng.integers(0, 256, (h // 8 + 1, w // 8 + 1, 3), dtype=np.uint8))
                smooth.resize((w, h), Image.BILINEAR).save(path)
                cases.append(path)
            for path in cases:
                out = os.path.join(tmp, "seen.ppm")
                r = capt("decode", path, out, "--model", model)
                got = np.asarray(Image.open(out), dtype=np.int32) if r.returncode == 0 else None
                want = torchvision_preprocess(path, 224)
                check(got is not None and got.shape == want.shape and np.array_equal(got, want),
                      "preprocessing of %s (%s) equals Pillow's" % (os.path.basename(path), Image.open(path).size))
            # Bad input.
            r = capt("embed", "--model", model, "--pixels", pixels[0] + "x")
            check(r.returncode == 1 and "No such file" in r.stderr, "missing pixels file: %s" % r.stderr.strip())
            short = os.path.join(tmp, "short.f32")
            np.zeros(3 * 224 * 223, dtype="<f4").tofile(short)
            r = capt("embed", "--model", model, "--pixels", short)
            check(r.returncode == 1 and "float32 [3, 224, 224]" in r.stderr, "wrong pixels size: %s" % r.stderr.strip())
            r = capt("embed", "--model", model, "--text", "word " * 80)
            check(r.returncode == 1 and "at most 75" in r.stderr, "too long a text: %s" % r.stderr.strip())
            r = capt("embed", "--model", model, "--text", "a", "--image", photo)
            check(r.returncode == 2 and "usage" in r.stderr, "two inputs: %s" % r.stderr.strip())
            with open(model, "rb") as f:
                data = f.read()
            for cut in (len(data) // 3, len(data) - 1):
                bad = os.path.join(tmp, "cut.capt")
                with open(bad, "wb") as f:
                    f.write(data[:cut])
                r = capt("embed", "--model", bad, "--text", "a")
                check(r.returncode == 1 and "capt:" in r.stderr and "Traceback" not in r.stderr,
                      "truncated at %d: %s" % (cut, r.stderr.strip()[-120:]))
            mbv2 = os.path.join(HERE, "..", "weights", "mobilenet_v2.capt")
            if os.path.exists(mbv2):
                r = capt("embed", "--model", mbv2, "--text", "a")
                check(r.returncode == 1 and "not a CLIP model" in r.stderr, "not a CLIP model: %s" % r.stderr.strip())

print("%d failures" % failures)
sys.exit(1 if failures else 0)
