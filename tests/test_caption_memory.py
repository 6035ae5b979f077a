#!/usr/bin/python3
"""No memory growth over 1,000 captions: `capt bench caption --repeat 1000` reports RSS
before and after, and sampled along the way; it must not grow by more than 1 MiB
(allocator noise), the samples must stay within 1% of the first, and a caption must fit
in a sane peak. (The soak of docs/fuzzing.md runs the same with --repeat 5000.)
Usage: test_caption_memory.py MODEL.capt CAPT_BINARY"""
import re
import subprocess
import sys

model, capt = sys.argv[1], sys.argv[2]
r = subprocess.run([capt, "bench", "caption", "--model", model, "--min-time", "0", "--repeat", "1000"],
                   capture_output=True, text=True, timeout=1200)
print(r.stdout.strip())
m = re.search(r"peak RSS ([\d.]+) MB .* RSS ([\d.]+) MB -> ([\d.]+) MB over 1000 more captions \(([+-]\d+) KiB\)", r.stdout)
if r.returncode or not m:
    print(r.stderr[-2000:])
    sys.exit(1)
peak, growth = float(m.group(1)), int(m.group(4))
spread = re.search(r"a spread of ([\d.]+)% of the first", r.stdout)
ok = growth <= 1024 and peak < 200 and spread is not None and float(spread.group(1)) <= 1.0
print("%s RSS growth over 1000 captions: %+d KiB, sampled spread %s%%; peak %.1f MB" % (
    "ok  " if ok else "FAIL", growth, spread.group(1) if spread else "?", peak))
sys.exit(0 if ok else 1)
