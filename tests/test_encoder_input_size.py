#!/usr/bin/python3
"""The encoder converted at another input size (convert_tflite.py --input-size 320: the
fully convolutional network on 320x320 pixels, a 10x10 grid) against the float PyTorch
reference run at that size: grids of the four shared photos within relative L2 error
1e-2, the cat still a cat; an input too small for the network is refused. With
--logit-scale 1.75 (which gives the head its mean confidence at 224 back) the engine's class
probabilities are the reference's softmax of 1.75 x its logits; a scale of 0 or inf is refused. At the
graph's own size the converter must reproduce the shapes the TFLite file states (it
raises otherwise), so that path is the golden test's.
Usage: test_encoder_input_size.py CAPT_COMMAND..."""
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import mbv2_reference  # noqa: E402
from captfile import read_capt  # noqa: E402
from checks import engine_features  # noqa: E402

cmd = sys.argv[1:]
SIZE = 320
LOGIT_SCALE = 1.75
photos = sorted(os.path.join(mbv2_reference.ASSETS, "data", "photos", p)
                for p in os.listdir(os.path.join(mbv2_reference.ASSETS, "data", "photos")))
failures = 0
with tempfile.TemporaryDirectory() as tmp:
    def convert(out, size, *options):
        return subprocess.run([sys.executable, os.path.join(HERE, "..", "tools", "convert_tflite.py"),
                               mbv2_reference.TFLITE, mbv2_reference.LABELS, out, "--input-size", str(size)]
                              + list(options), capture_output=True, text=True, timeout=600)

    # The logit scale touches only the head, so one file serves the grids and the classes.
    model = os.path.join(tmp, "mbv2_%d.capt" % SIZE)
    converted = convert(model, SIZE, "--logit-scale", str(LOGIT_SCALE))
    if converted.returncode != 0:
        print(converted.stderr[-2000:])
        sys.exit(1)
    tiny = convert(os.path.join(tmp, "tiny.capt"), 0)
    if tiny.returncode != 1 or "too small" not in tiny.stderr or os.path.exists(os.path.join(tmp, "tiny.capt")):
        failures += 1
        print("FAIL --input-size 0: exit %d, %s" % (tiny.returncode, tiny.stderr.strip()[-300:]))
    for bad_scale in ("0", "inf"):
        refused = convert(os.path.join(tmp, "bad.capt"), SIZE, "--logit-scale", bad_scale)
        if refused.returncode != 1 or "positive and finite" not in refused.stderr:
            failures += 1
            print("FAIL --logit-scale %s: exit %d, %s" % (bad_scale, refused.returncode, refused.stderr.strip()[-300:]))
    meta = read_capt(model).meta
    grid_shape = meta["encoder.op.%d.shape" % (meta["encoder.grid"] - 1)]
    if list(meta["encoder.input"][:2]) != [SIZE, SIZE] or list(grid_shape) != [10, 10, 1280]:
        failures += 1
        print("FAIL input %s, grid %s (want [320, 320], [10, 10, 1280])" % (meta["encoder.input"], grid_shape))
    grids = engine_features(cmd, model, photos, tmp)
    ref = mbv2_reference.Reference(input_size=SIZE)
    for path, grid in zip(photos, grids):
        want = ref.features(path, cmd)  # the pixels capt decodes
        err = np.linalg.norm(grid - want["grid"]) / np.linalg.norm(want["grid"])
        ok = grid.shape == (100, 1280) and err <= 1e-2
        failures += not ok
        print("%s %s: grid %s, relative L2 error vs reference %.2e" % ("ok  " if ok else "FAIL", os.path.basename(path),
                                                                       grid.shape, err))
        if os.path.basename(path) == "chelsea.png":
            labels = [line.rstrip("\n") for line in open(mbv2_reference.LABELS)]
            top1 = labels[int(np.argmax(want["logits"]))]
            failures += "cat" not in top1
            print("%s chelsea.png top-1 at %d: %s" % ("ok  " if "cat" in top1 else "FAIL", SIZE, top1))
            # capt classify prints the image, then "  PROBABILITY  LABEL" lines
            r = subprocess.run(cmd + ["classify", "--model", model, "--top", "3", path], capture_output=True,
                               text=True, timeout=600)
            got = [(float(line.split(None, 1)[0]), line.split(None, 1)[1]) for line in r.stdout.splitlines()[1:]]
            probs = mbv2_reference.class_probs(want["logits"], LOGIT_SCALE)
            expected = [(probs[k], labels[k]) for k in np.argsort(-probs)[:3]]
            ok = (r.returncode == 0 and [g[1] for g in got] == [e[1] for e in expected]
                  and all(abs(g[0] - e[0]) <= 1e-2 for g, e in zip(got, expected)))
            failures += not ok
            print("%s chelsea.png top 3 at logit scale %g: %s (reference %s)" % (
                "ok  " if ok else "FAIL", LOGIT_SCALE, got, [(round(p, 4), l) for p, l in expected]))
sys.exit(1 if failures else 0)
