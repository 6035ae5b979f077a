"""The report of the Python tests that run many checks: a line per check ("ok" or "FAIL"),
and an exit status of 1 when any failed; and the engine's features of a list of images."""
import os
import subprocess
import sys

import numpy as np

failures = 0


def check(ok, what):
    global failures
    failures += not ok
    print("%s %s" % ("ok  " if ok else "FAIL", what))


def finish():
    sys.exit(1 if failures else 0)


def engine_features(cmd, model, paths, tmp):
    """`capt features` (cmd: the capt command) of these image paths with this model, as
    float32 [images, tokens, channels]; a failed run ends the test with its message."""
    listing, out = os.path.join(tmp, "list.txt"), os.path.join(tmp, "features.npy")
    with open(listing, "w") as f:
        f.write("\n".join(paths) + "\n")
    r = subprocess.run(cmd + ["features", "--model", model, "--list", listing, "--out", out], capture_output=True,
                       text=True, timeout=600)
    if r.returncode != 0:
        print(r.stderr[-2000:])
        sys.exit(1)
    return np.load(out).astype(np.float32)
