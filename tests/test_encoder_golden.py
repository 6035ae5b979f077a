#!/usr/bin/python3
"""capt's encoder against the float PyTorch reference (tests/golden/mbv2_features.npz,
made by tools/mbv2_reference.py): the 7x7x1280 grid of the four shared photos and 20
Flickr8k test images within relative L2 error 1e-2, and the expected top-1 classes.
Usage: test_encoder_golden.py MODEL.capt CAPT_COMMAND..."""
import os
import subprocess
import sys
import tempfile

import numpy as np

from checks import engine_features

HERE = os.path.dirname(os.path.abspath(__file__))
ASSETS = os.environ.get("CAPT_ASSETS", os.path.join(HERE, "..", "..", "shared"))
model, cmd = sys.argv[1], sys.argv[2:]
golden = np.load(os.path.join(HERE, "golden", "mbv2_features.npz"))
names = [str(n) for n in golden["names"]]
failures = 0

with tempfile.TemporaryDirectory() as tmp:
    grids = engine_features(cmd, model, [os.path.join(ASSETS, n) for n in names], tmp)

worst = 0.0
for i, name in enumerate(names):
    ref = golden["grid"][i].astype(np.float32)
    err = np.linalg.norm(grids[i] - ref) / np.linalg.norm(ref)
    worst = max(worst, err)
    if os.environ.get("VERBOSE"):
        print("%s %.2e" % (name, err))
    if err > 1e-2:
        failures += 1
        print("FAIL %s: relative L2 error %.4f > 0.01" % (name, err))
print("encoder vs PyTorch reference: worst relative L2 error %.2e over %d images" % (worst, len(names)))

expected = {"chelsea.png": ("tiger cat", "tabby", "Egyptian cat"), "coffee.png": ("espresso",),
            "rocket.jpg": ("missile", "projectile")}
photos = [os.path.join(ASSETS, "data", "photos", p) for p in expected]
r = subprocess.run(cmd + ["classify", "--model", model, "--top", "1"] + photos, capture_output=True, text=True,
                   timeout=600)
lines = r.stdout.splitlines()
for (photo, want), path in zip(expected.items(), photos):
    top1 = lines[lines.index(path) + 1] if path in lines else ""
    ok = any(w in top1 for w in want)
    failures += not ok
    print("%s %s top-1: %s" % ("ok  " if ok else "FAIL", photo, top1.strip()))
sys.exit(1 if failures or r.returncode else 0)
