#!/usr/bin/python3
"""capt's object detector against the PyTorch reference that executes the TF.js graph
node by node (tools/centernet_reference.py): every peak with score >= 0.05 of 12 photos
(the shared ones, coco-ood-dev and Flickr8k test images), same classes, scores within
1e-4, boxes within 0.05 input pixels; the reference's own peak decoding equals the
graph's top-k nodes; the expected objects of three photos; inconsistent or hostile
detector metadata, a cut file and bad arguments get a message and a non-zero status; the
converter refuses an input size that is not a multiple of 32.
Usage: test_detector.py MODEL.capt CAPT_COMMAND..."""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

from checks import check, finish

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import centernet_reference as ref  # noqa: E402
from captfile import CaptWriter, read_capt  # noqa: E402

ASSETS = os.environ.get("CAPT_ASSETS", os.path.join(HERE, "..", "..", "shared"))
model, cmd = sys.argv[1], sys.argv[2:]
size = read_capt(model).meta["detector.input"][0]
photos = [os.path.join(ASSETS, "data", "photos", p) for p in ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg")]
coco = sorted(os.listdir(os.path.join(ASSETS, "data", "coco-ood-dev", "images")))[:4]
flickr = open(os.path.join(ASSETS, "data", "flickr8k", "Flickr_8k.testImages.txt")).read().split()[:4]
images = (photos + [os.path.join(ASSETS, "data", "coco-ood-dev", "images", n) for n in coco]
          + [os.path.join(ASSETS, "data", "flickr8k", "images", n) for n in flickr])
MIN_SCORE = 0.05

runner = ref.GraphRunner()
check(ref.check_postprocess(runner), "the reference's peak decoding equals the graph's TopKV2 post-processing")

r = subprocess.run(cmd + ["detect", "--model", model, "--json", "--min-score", str(MIN_SCORE)] + images,
                   capture_output=True, text=True, timeout=900)
check(r.returncode == 0, "capt detect ran (%s)" % r.stderr.strip()[-300:])
found = {json.loads(line)["image"]: json.loads(line)["detections"] for line in r.stdout.splitlines()}

worst_score = worst_box = 0.0
for path in images:
    with tempfile.TemporaryDirectory() as tmp:
        # the pixels the engine sees, stretched to the detector's input by the engine itself
        subprocess.run(cmd + ["decode", path, os.path.join(tmp, "x.ppm"), "--size", "%dx%d" % (size, size)],
                       check=True, timeout=300)
        pixels = np.asarray(Image.open(os.path.join(tmp, "x.ppm")).convert("RGB"), dtype=np.float32)
    out = runner.run(pixels)
    want = ref.decode(out[ref.HEATMAP], out[ref.BOXES])
    want = want[want[:, 4] >= MIN_SCORE]
    got = found.get(path, [])
    unmatched = list(range(len(want)))
    ok = len(got) == len(want)
    for d in got:
        box = np.array(d["box"]) * size
        cands = [i for i in unmatched if int(want[i, 5]) == d["class"]]
        if not cands:
            ok = False
            continue
        i = min(cands, key=lambda i: np.abs(np.clip(want[i, :4], 0, size) - box).max())
        unmatched.remove(i)
        worst_box = max(worst_box, float(np.abs(np.clip(want[i, :4], 0, size) - box).max()))
        worst_score = max(worst_score, abs(float(want[i, 4]) - d["score"]))
    check(ok and not unmatched, "%s: %d peaks, the reference %d, all matched" % (os.path.basename(path), len(got),
                                                                                   len(want)))
check(worst_score <= 1e-4 and worst_box <= 0.05,
      "scores within %.1e (<= 1e-4), boxes within %.3f input pixels (<= 0.05)" % (worst_score, worst_box))
for photo, label in (("astronaut.png", "person"), ("chelsea.png", "cat"), ("coffee.png", "cup")):
    top = found.get(os.path.join(ASSETS, "data", "photos", photo), [{}])[0]
    check(top.get("label") == label, "%s: the most confident object is a %s (%s %.2f)" % (
        photo, label, top.get("label"), top.get("score", 0)))


def variant(base, path, meta_changes, drop_tensors=()):
    """A copy of the file `base` with metadata changed (value None: removed)."""
    w = CaptWriter()
    for key, value in base.meta.items():
        if key in meta_changes:
            value = meta_changes[key]
        if value is not None:
            w.add_meta(key, value)
    for t in base.tensors.values():
        if t.name not in drop_tensors:
            w.add_tensor_raw(t.name, t.raw, t.dtype, t.shape)
    w.write(path)
    return path


# Hostile or inconsistent detectors are refused at load with a message, never a crash.
base = read_capt(model)
heatmap_op = base.meta["detector.heatmap"] - 1
upsample_op = next(i for i in range(base.meta["detector.n_ops"])
                   if base.meta["detector.op.%d.type" % i] == "upsample")
photo = images[1]
with tempfile.TemporaryDirectory() as tmp:
    cases = [
        ({"detector.labels": base.meta["detector.labels"][:79]}, (), "detector.labels"),
        ({"detector.op.0.activation": "swish"}, (), "unknown activation"),
        ({"detector.op.%d.shape" % upsample_op: [1, 1, base.meta["detector.op.%d.shape" % upsample_op][2]]}, (),
         "must enlarge"),
        ({"detector.heatmap": 3}, (), "do not cover"),
        ({"detector.hard_scale": 7.0}, (), "hard_scale"),
        ({"detector.stride": 0}, (), "detector.stride"),
        ({}, ("detector.op.%d.bias" % heatmap_op,), "detector.op.%d.bias is missing or not [80]" % heatmap_op),
        ({"decoder.det_classes": 81}, (), "decoder.det.class is missing"),
        ({"detector.type": None}, (), "the file's detector gives 0"),
    ]
    for k, (changes, drop, message) in enumerate(cases):
        bad = variant(base, os.path.join(tmp, "bad%d.capt" % k), changes, drop)
        r = subprocess.run(cmd + ["caption", "--model", bad, photo], capture_output=True, text=True, timeout=300)
        check(r.returncode == 1 and message in r.stderr, "a model with %s is refused: %s" % (
            ", ".join(list(changes) + ["no " + d for d in drop]), r.stderr.strip()[-160:]))
    cut = os.path.join(tmp, "cut.capt")
    with open(model, "rb") as f, open(cut, "wb") as out:
        out.write(f.read()[:os.path.getsize(model) - 1000000])
    r = subprocess.run(cmd + ["detect", "--model", cut, photo], capture_output=True, text=True, timeout=300)
    check(r.returncode == 1 and "past the end" in r.stderr, "a cut model file is refused: %s" % r.stderr.strip()[-120:])
    no_detector = variant(base, os.path.join(tmp, "encoder.capt"), {k: None for k in base.meta if k.startswith(
        ("detector.", "decoder."))}, [t for t in base.tensors if t.startswith(("detector.", "decoder."))])
    r = subprocess.run(cmd + ["detect", "--model", no_detector, photo], capture_output=True, text=True, timeout=300)
    check(r.returncode == 1 and "no object detector" in r.stderr, "capt detect without a detector: %s" % r.stderr.strip())
r = subprocess.run(cmd + ["detect", "--min-score", "2", photo], capture_output=True, text=True, timeout=300)
check(r.returncode == 2 and "--min-score" in r.stderr, "capt detect --min-score 2 is a usage error")

# The converter refuses an input size the network cannot run at.
with tempfile.TemporaryDirectory() as tmp:
    r = subprocess.run([sys.executable, os.path.join(HERE, "..", "tools", "convert_centernet.py"), ref.GRAPH,
                        os.path.join(tmp, "d.capt"), "--input-size", "8"], capture_output=True, text=True, timeout=300)
    check(r.returncode == 1 and "multiple of 32" in r.stderr and not os.path.exists(os.path.join(tmp, "d.capt")),
          "convert_centernet --input-size 8 is refused (%s)" % r.stderr.strip())
finish()
