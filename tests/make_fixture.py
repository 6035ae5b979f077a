#!/usr/bin/python3
"""Writes tests/data/fixture.capt, the small .capt file the C and Python format tests read.
Every value follows a formula the tests recompute:
tensor element i (row-major) = (i % 17) * 0.25 - 2 (exactly representable in f16)."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from captfile import CaptWriter  # noqa: E402

SHAPES = {
    "a.f32": ((3, 5), "f32"),
    "b.f16": ((2, 3, 4), "f16"),
    "c.q8_0": ((4, 64), "q8_0"),
    "d.q4_0": ((3, 32), "q4_0"),
    "e.vector": ((7,), "f32"),
    "f.rank4": ((1, 2, 1, 3), "f16"),
}


def values(shape):
    n = int(np.prod(shape))
    return ((np.arange(n) % 17) * 0.25 - 2).astype(np.float32).reshape(shape)


def build():
    w = CaptWriter()
    w.add_meta("general.name", "fixture \u00e9\u6f22")
    w.add_meta("general.count", 42)
    w.add_meta("general.negative", -7)
    w.add_meta("general.scale", 0.125)
    w.add_meta("list.ints", [1, -2, 3])
    w.add_meta("list.floats", [0.5, -1.5])
    w.add_meta("list.strings", ["a", "", "xyz"])
    w.add_meta("list.empty", [])
    for name, (shape, dtype) in SHAPES.items():
        w.add_tensor(name, values(shape), dtype)
    return w.to_bytes()


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "data",
                                                             "fixture.capt")
    with open(out, "wb") as f:
        f.write(build())
