#!/usr/bin/python3
"""Bad input to the capt CLI gets a clear message and a non-zero status, never a crash:
wrong arguments, missing and hostile files. Usage: test_cli_errors.py CAPT_COMMAND..."""
import os
import subprocess
import sys
import tempfile

import numpy as np

CMD = sys.argv[1:]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from captfile import CaptWriter  # noqa: E402
failures = 0
checks = 0


def run(args, stdin=b""):
    return subprocess.run(CMD + args, input=stdin, capture_output=True, timeout=300)


def expect(args, status, stderr_part, stdin=b""):
    global failures, checks
    checks += 1
    r = run(args, stdin)
    err = r.stderr.decode("utf-8", "replace")
    ok = r.returncode == status and stderr_part in err
    if not ok:
        failures += 1
        print("FAIL capt %s: status %d (want %d), stderr %r (want %r)" % (" ".join(args), r.returncode, status,
                                                                           err[-500:], stderr_part))


def tiny_encoder(path, change):
    """A 16x16 convnet encoder (conv 3x3/2 -> 8x8x8 -> mean -> 1x1 conv: 3 classes) with
    the metadata in `change` replaced."""
    rng = np.random.default_rng(0)
    w = CaptWriter()
    meta = {"general.architecture": "convnet", "preprocess.width": 16, "preprocess.height": 16,
            "preprocess.resize": "stretch", "preprocess.mean": [0.5, 0.5, 0.5], "preprocess.std": [0.5, 0.5, 0.5],
            "encoder.type": "convnet", "encoder.input": [16, 16, 3], "encoder.n_ops": 3, "encoder.grid": 0,
            "encoder.pooled": 1, "encoder.logits": 2, "encoder.labels": ["background", "cat", "dog"]}
    ops = [("conv2d", [0], [8, 8, 8], [3, 3], [2, 2], (8, 27)), ("mean", [1], [1, 1, 8], None, None, None),
           ("conv2d", [2], [1, 1, 3], [1, 1], [1, 1], (3, 8))]
    for i, (kind, inputs, shape, kernel, stride, wshape) in enumerate(ops):
        p = "encoder.op.%d." % i
        meta.update({p + "type": kind, p + "inputs": inputs, p + "shape": shape})
        if kernel:
            meta.update({p + "activation": "none", p + "kernel": kernel, p + "stride": stride, p + "pad": [0, 0]})
            w.add_tensor(p + "weight", rng.normal(0, 0.3, wshape).astype(np.float32), "f32")
            w.add_tensor(p + "bias", np.zeros(shape[-1], np.float32), "f32")
    meta.update(change)
    for key, value in meta.items():
        w.add_meta(key, value)
    w.write(path)


with tempfile.TemporaryDirectory() as tmp:
    garbage = os.path.join(tmp, "garbage.capt")
    with open(garbage, "wb") as f:
        f.write(b"CAPT" + b"\xff" * 60)
    empty = os.path.join(tmp, "empty")
    open(empty, "wb").close()
    expect([], 2, "usage")
    expect(["frobnicate"], 2, "unknown command")
    expect(["inspect"], 2, "usage")
    expect(["inspect", os.path.join(tmp, "missing.capt")], 1, "No such file")
    expect(["inspect", garbage], 1, "not supported")
    expect(["inspect", empty], 1, "shorter than the header")
    expect(["inspect", tmp], 1, "capt:")  # a directory
    expect(["tokenize"], 2, "usage")
    expect(["tokenize", "--bogus", "x"], 2, "unknown")
    expect(["tokenize", "--vocab", garbage, "a dog"], 1, "merge")
    expect(["tokenize", "--vocab", os.path.join(tmp, "nope.gz"), "a dog"], 1, "No such file")
    expect(["tokenize", "--decode", "320", "99999"], 2, "not a token id")
    expect(["tokenize", "--decode", "abc"], 2, "not a token id")
    expect(["tokenize", "--jsonl"], 1, "line 2", stdin=b'{"text": "ok"}\n{"text": 5}\n')
    expect(["tokenize", "--jsonl"], 1, "line 1", stdin=b'[' * 100000 + b"\n")
    expect(["tokenize", "--jsonl", "extra"], 2, "usage")
    expect(["bench"], 2, "usage")
    expect(["bench", "gemm"], 2, "usage")  # the kernels' benchmark is capt-bench-kernels
    expect(["bench", "encoder", "--threads", "0"], 2, "--threads")
    expect(["bench", "caption", "--threads", "x"], 2, "--threads")

    # Sizes that wrap 32 bits (size_t on wasm32) are refused, not wrapped: a convnet op
    # whose output is 8192 x 8192 x 64 = 2^32 floats, a metadata int of 2^32 + 16 where an
    # image side is expected (it used to narrow to 16).
    photo = os.path.join(os.environ.get("CAPT_ASSETS", os.path.join(ROOT, "..", "shared")), "data", "photos",
                         "chelsea.png")
    for name, change, message in (("wrap-op.capt", {"encoder.op.0.shape": [8192, 8192, 64]}, "too large"),
                                  ("wrap-input.capt", {"encoder.input": [2 ** 32 + 16, 16, 3]}, "encoder.input"),
                                  ("wrap-width.capt", {"preprocess.width": 2 ** 32 + 16}, "preprocess.width")):
        path = os.path.join(tmp, name)
        tiny_encoder(path, change)
        expect(["classify", "--model", path, photo], 1, message)

print("cli errors: %d checks, %d failed" % (checks, failures))
sys.exit(1 if failures else 0)
