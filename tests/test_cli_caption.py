#!/usr/bin/python3
"""`capt caption` and `capt attention` as a user runs them: one image, a directory, paths
on stdin, several threads; JSON fields; an unreadable image reported on its own line while
the batch continues, and the exit status; the attention picture; wrong arguments.
Usage: test_cli_caption.py MODEL.capt CAPT_COMMAND..."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ASSETS = os.environ.get("CAPT_ASSETS", os.path.join(HERE, "..", "..", "shared"))
MODEL, CMD = sys.argv[1], sys.argv[2:]
PHOTOS = os.path.join(ASSETS, "data", "photos")
failures = 0


def check(cond, what):
    global failures
    failures += not cond
    print("%s %s" % ("ok  " if cond else "FAIL", what))


def run(args, stdin=""):
    return subprocess.run(CMD + args, input=stdin, capture_output=True, text=True, timeout=600)


photos = sorted(os.path.join(PHOTOS, f) for f in os.listdir(PHOTOS))
r = run(["caption", "--model", MODEL, photos[1]])
line = r.stdout.strip()
check(r.returncode == 0 and line.startswith(photos[1] + "\t") and line.endswith(".") and line.count("\n") == 0,
      "one image: IMAGE<TAB>caption (%r)" % line)
caption = line.split("\t", 1)[1] if "\t" in line else ""
check(caption[:1].isupper(), "the caption starts with a capital")
r_raw = run(["caption", "--model", MODEL, "--raw", photos[1]])
raw = r_raw.stdout.strip().split("\t", 1)[-1]
check(raw[:1].islower() and not raw.endswith("."), "--raw keeps the model's text (%r)" % raw)

with tempfile.TemporaryDirectory() as tmp:
    for p in photos:
        shutil.copy(p, tmp)
    with open(os.path.join(tmp, "broken.jpg"), "wb") as f:
        f.write(b"\xff\xd8\xff\xe0 not really a jpeg")
    with open(os.path.join(tmp, "notes.txt"), "w") as f:
        f.write("skipped: not an image extension")
    r = run(["caption", "--model", MODEL, "--threads", "2", tmp])
    lines = r.stdout.strip().split("\n")
    check(len(lines) == 5 and r.returncode == 1, "a directory: 5 lines (4 photos + the broken one), exit 1")
    check(any("broken.jpg\terror:" in l for l in lines), "the unreadable image is reported on its own line")
    check([l.split("\t")[0] for l in lines] == sorted(l.split("\t")[0] for l in lines), "output in input order")
    same = run(["caption", "--model", MODEL, tmp])
    check(same.stdout == r.stdout, "2 threads give the same output as 1")

    r = run(["caption", "--model", MODEL, "--json", "-"], stdin="%s\n%s\n" % (photos[0], os.path.join(tmp, "nope.png")))
    objs = [json.loads(l) for l in r.stdout.strip().split("\n")]
    check(r.returncode == 1 and len(objs) == 2 and "error" in objs[1], "stdin paths; missing file -> error object")
    o = objs[0]
    check(all(k in o for k in ("image", "caption", "tokens", "attention", "timings_ms")), "JSON fields")
    att = o["attention"]
    check(att["grid"] == [7, 7] and len(att["maps"]) == att["layers"] and len(att["maps"][0]) == att["heads"] and
          len(att["maps"][0][0]) == len(o["tokens"]) and len(att["maps"][0][0][0]) == 49,
          "attention maps [layer][head][token][49]")
    # A token's attention is shared by the grid, the detections and the empty detection
    # slots (not reported); with every slot filled, grid and detections take it all.
    shares = [sum(att["mean"][1][t]) + sum(o["detection_attention"][1][t]) for t in range(len(o["tokens"]))]
    check(all(0 < x < 1 + 1e-3 for x in shares), "a token's head-average grid and detection shares are at most 1 (%s)"
          % ", ".join("%.3f" % x for x in shares))
    busy = os.path.join(ASSETS, "data", "coco-ood-dev", "images", "000000000790.jpg")  # > 10 people
    full = json.loads(run(["caption", "--model", MODEL, "--json", busy]).stdout)
    shares = [sum(full["attention"]["mean"][1][t]) + sum(full["detection_attention"][1][t])
              for t in range(len(full["tokens"]))]
    check(len(full["detections"]) == 10 and all(abs(x - 1) < 2e-3 for x in shares),
          "with all 10 detection slots filled, a token's grid and detection shares sum to 1 (%s)"
          % ", ".join("%.4f" % x for x in shares))
    check(all(0 < t["p"] <= 1 and t["text"] for t in o["tokens"]), "tokens have text and probability")
    check(all(o["timings_ms"][k] >= 0 for k in ("decode", "encode", "caption")), "timings")

    out_png = os.path.join(tmp, "att.png")
    r = run(["attention", photos[1], "--model", MODEL, "--out", out_png, "--layer", "2"])
    check(r.returncode == 0 and os.path.getsize(out_png) > 10000, "capt attention writes a PNG")
    r = run(["attention", photos[1], "--model", MODEL, "--out", out_png, "--layer", "9"])
    check(r.returncode == 2 and "layers" in r.stderr, "a layer the model lacks is refused")

for args, want in ((["caption"], "usage"), (["caption", "--beam", "0", photos[0]], "--beam"),
                   (["caption", "--beam", "99", photos[0]], "--beam"), (["caption", "--bogus", photos[0]], "unknown"),
                   (["caption", "--model", os.path.join(ASSETS, "data", "photos", "coffee.png"), photos[0]], "capt"),
                   (["attention", photos[0]], "usage")):
    r = run(args)
    check(r.returncode == 2 or (r.returncode == 1 and want == "capt"), "%s -> status %d" % (" ".join(args[:2]), r.returncode))
    check(want in r.stderr, "  message mentions %r" % want)
r = run(["caption", "--model", os.path.join(HERE, "data", "fixture.capt"), photos[0]])
check(r.returncode == 1 and "capt:" in r.stderr, "a model file without an encoder is refused: %s" % r.stderr.strip())

print("cli caption: %d failed" % failures)
sys.exit(1 if failures else 0)
