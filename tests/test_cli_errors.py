#!/usr/bin/python3
"""Bad input to the capt CLI gets a clear message and a non-zero status, never a crash:
wrong arguments, missing and hostile files. Usage: test_cli_errors.py CAPT_COMMAND..."""
import os
import subprocess
import sys
import tempfile

CMD = sys.argv[1:]
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
    expect(["bench", "gemm", "--threads", "0"], 2, "--threads")
    expect(["bench", "gemm", "--threads", "x"], 2, "--threads")

print("cli errors: %d checks, %d failed" % (checks, failures))
sys.exit(1 if failures else 0)
