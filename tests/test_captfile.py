#!/usr/bin/python3
"""tools/captfile.py: the committed fixture is exactly what tests/make_fixture.py writes,
the reader returns every value, quantization matches the C reference (dequantized by
`capt` itself would need an API; the values are checked against the formula with the
same tolerances as test_format.c), and `capt inspect` lists the same tensors.
Usage: test_captfile.py CAPT_BINARY"""
import os
import struct
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
sys.path.insert(0, HERE)
import captfile  # noqa: E402
import make_fixture  # noqa: E402

failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL", what)


fixture = os.path.join(HERE, "data", "fixture.capt")
data = open(fixture, "rb").read()
check(make_fixture.build() == data, "tests/data/fixture.capt is stale: run tests/make_fixture.py")

f = captfile.read_capt(fixture)
check(f.meta["general.name"] == "fixture \u00e9\u6f22" and f.meta["general.count"] == 42, "scalars")
check(f.meta["list.strings"] == ["a", "", "xyz"] and f.meta["list.floats"] == [0.5, -1.5], "arrays")
# q4_0 can be off by a whole step: with d = m/-8 the value -m clamps to 7d.
tolerance = {"f32": 0, "f16": 0, "q8_0": 2 / 127 / 2 * 1.01, "q4_0": 2 / 8 * 1.01}
for name, (shape, dtype) in make_fixture.SHAPES.items():
    t = f.tensors[name]
    err = np.abs(t.array() - make_fixture.values(shape)).max()
    check(t.shape == shape and t.dtype == dtype and err <= tolerance[dtype], "%s: error %g" % (name, err))

# Quantizers against hand-computed blocks.
x = np.linspace(-1, 1, 32, dtype=np.float32)
q8 = captfile.quantize_q8_0(x)
check(q8.shape == (34,) and q8[2:].view(np.int8)[0] == -127 and q8[2:].view(np.int8)[-1] == 127, "q8_0 block")
q4 = captfile.quantize_q4_0(x)
# m = -1 (first of largest magnitude), d = 1/8: -1 -> nibble 0, +1 -> 16 clamped to 15.
check(q4.shape == (18,) and (q4[2] & 15) == 0 and (q4[17] >> 4) == 15, "q4_0 block")
check(np.abs(captfile.dequantize(q4.tobytes(), "q4_0", (32,)) - x).max() <= 1 / 8 * 1.01, "q4_0 error")

# Hostile input to the Python reader raises FormatError, never anything else.
rng = np.random.default_rng(0)
for n in range(len(data)):
    try:
        captfile.read_capt(data[:n])
        check(False, "truncated at %d accepted" % n)
    except captfile.FormatError:
        pass
for _ in range(2000):
    bad = bytearray(data)
    bad[int(rng.integers(len(data)))] ^= 1 << int(rng.integers(8))
    try:
        captfile.read_capt(bytes(bad))
    except (captfile.FormatError, UnicodeDecodeError):
        pass
    except (MemoryError, OverflowError, ValueError) as e:  # numpy on absurd counts
        check(isinstance(e, ValueError), "bit flip raised %r" % e)

out = subprocess.run([sys.argv[1], "inspect", fixture], capture_output=True, text=True)
check(out.returncode == 0, "capt inspect failed: " + out.stderr)
for name, (shape, dtype) in make_fixture.SHAPES.items():
    check(any(line.split()[:2] == [name, dtype] for line in out.stdout.splitlines() if line.startswith("  ")),
          "capt inspect lacks %s %s" % (name, dtype))
check("list.strings" in out.stdout and "string[3]" in out.stdout, "capt inspect metadata")
# The header's CRC-32: the Python reader, like the C one, refuses a file with any flipped bit.
refused = 0
for at in range(len(data)):
    bad = bytearray(data)
    bad[at] ^= 1 << (at % 8)
    try:
        captfile.read_capt(bytes(bad))
    except (captfile.FormatError, ValueError, UnicodeDecodeError, struct.error):
        refused += 1
check(refused == len(data), "a flipped bit refused at %d of %d bytes" % (refused, len(data)))

print("captfile.py: %d failed" % failures)
sys.exit(1 if failures else 0)
