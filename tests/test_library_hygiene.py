#!/usr/bin/python3
"""The engine library keeps no global mutable state (no writable global data symbols)
and never exits or aborts: core/ sources do not call exit/abort, and libcapt_core.a
references neither. Its layers include only downwards (base <- kernels <- src; the CLI
uses the public header alone). capt.h also compiles as strict C11 with -pedantic.
Usage: test_library_hygiene.py LIBCAPT_CORE.a C_COMPILER"""
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
lib, cc = sys.argv[1], sys.argv[2]
failures = []

nm = subprocess.run(["nm", lib], capture_output=True, text=True, check=True).stdout
for line in nm.splitlines():
    parts = line.split()
    if len(parts) == 3 and parts[1] in "BDGSC":  # global writable data / common
        failures.append("global mutable symbol: " + line)
    if len(parts) == 2 and parts[0] == "U" and parts[1] in ("exit", "_exit", "abort", "quick_exit", "_Exit"):
        failures.append("library references " + parts[1])

for folder, _, files in os.walk(os.path.join(ROOT, "core")):
    for name in files:
        path = os.path.join(folder, name)
        text = open(path, encoding="utf-8").read()
        for m in re.finditer(r"\b(exit|abort|_Exit|quick_exit)\s*\(", text):
            failures.append("%s calls %s" % (os.path.relpath(path, ROOT), m.group(1)))

# Layers, bottom up: core/base (errors, sizes, f16, dtype traits) depends only on the
# public header; core/kernels only on base and its own headers; core/src on anything
# below it; the CLI only on the public header (it is a client of the library).
ALLOWED = {
    "core/base": {"capt.h", "base.h"},
    "core/kernels": {"capt.h", "base.h", "kernels.h", "pool.h", "gemm_tiled.inc.h", "dwconv_simd.inc.h",
                     "blocks_avx2.inc.h"},
    "cli": {"capt.h", "commands.h", "json.h", "model_file.h", "strbuf.h", "util.h", "stb_image_write.h"},
}
for layer, allowed in ALLOWED.items():
    for folder, _, files in os.walk(os.path.join(ROOT, layer)):
        for name in files:
            path = os.path.join(folder, name)
            for m in re.finditer(r'#include\s+"([^"]+)"', open(path, encoding="utf-8").read()):
                if os.path.basename(m.group(1)) not in allowed or m.group(1).startswith("../../src") \
                        or "/src/" in m.group(1):
                    failures.append("%s includes %s (above its layer)" % (os.path.relpath(path, ROOT), m.group(1)))

with tempfile.TemporaryDirectory() as tmp:
    src = os.path.join(tmp, "h.c")
    with open(src, "w") as f:
        f.write('#include "capt.h"\nint main(void) { return capt_status_str(CAPT_OK)[0] == 0; }\n')
    r = subprocess.run([cc, "-std=c11", "-pedantic-errors", "-Wall", "-Wextra", "-Werror", "-fsyntax-only",
                        "-I", os.path.join(ROOT, "core", "include"), src], capture_output=True, text=True)
    if r.returncode:
        failures.append("capt.h is not strict C11: " + r.stderr)

for f in failures:
    print("FAIL", f)
print("library hygiene: %d problems" % len(failures))
sys.exit(1 if failures else 0)
