#!/usr/bin/python3
"""`capt caption --threads 2` over 500 Flickr8k test images writes exactly what
--threads 1 writes (captions, and for the first 20 the whole JSON but the timings): the
threads split the images, never the arithmetic of one image.
Usage: test_cli_threads.py MODEL.capt CAPT_BINARY"""
import json
import os
import subprocess
import sys

model, capt = sys.argv[1], sys.argv[2]
ASSETS = os.environ.get("CAPT_ASSETS", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared"))
root = os.path.join(ASSETS, "data", "flickr8k")
names = open(os.path.join(root, "Flickr_8k.testImages.txt")).read().split()[:500]
paths = "".join(os.path.join(root, "images", n) + "\n" for n in names)


def run(threads, *extra):
    r = subprocess.run([capt, "caption", "--model", model, "--threads", str(threads), *extra, "-"], input=paths,
                       capture_output=True, text=True, timeout=1800)
    if r.returncode:
        print("FAIL capt caption --threads %d: %s" % (threads, r.stderr[-500:]))
        sys.exit(1)
    return r.stdout


one, two = run(1), run(2)
lines = one.splitlines()
ok = one == two and len(lines) == 500
print("%s --threads 2 == --threads 1 over %d images (%d differ)" % (
    "ok  " if ok else "FAIL", len(lines), sum(a != b for a, b in zip(lines, two.splitlines()))))

paths = "".join(os.path.join(root, "images", n) + "\n" for n in names[:20])
strip = [[{k: v for k, v in json.loads(line).items() if k != "timings_ms"} for line in run(t, "--json").splitlines()]
         for t in (1, 2)]
same_json = strip[0] == strip[1] and len(strip[0]) == 20
print("%s the JSON (tokens, probabilities, attention, detections) is identical for 20 images" % (
    "ok  " if same_json else "FAIL"))
sys.exit(0 if ok and same_json else 1)
