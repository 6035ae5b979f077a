#!/usr/bin/python3
"""`capt tokenize --jsonl` against OpenAI's simple_tokenizer golden file: every line's ids
and decoded text must match exactly. Usage: test_tokenizer_golden.py CAPT_COMMAND..."""
import json
import os
import subprocess
import sys


def main():
    cmd = sys.argv[1:]
    assets = os.environ.get("CAPT_ASSETS", os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
    golden_path = os.path.join(assets, "reference", "clip_tokenizer_golden.jsonl")
    with open(golden_path, encoding="utf-8") as f:
        golden = [json.loads(line) for line in f if line.strip()]
    stdin = "".join(json.dumps({"text": g["text"]}) + "\n" for g in golden)
    out = subprocess.run(cmd + ["tokenize", "--jsonl"], input=stdin.encode("utf-8"), capture_output=True,
                         timeout=600)
    if out.returncode != 0:
        print(out.stderr.decode("utf-8", "replace")[-2000:])
        print("tokenizer golden: capt exited with %d" % out.returncode)
        return 1
    lines = out.stdout.decode("utf-8").splitlines()
    matched = 0
    for i, (g, line) in enumerate(zip(golden, lines)):
        got = json.loads(line)
        if got["ids"] == g["ids"] and got["decoded"] == g["decoded"]:
            matched += 1
        elif matched + 20 > i:  # show the first few differences
            print("line %d: %r\n  want %s %r\n  got  %s %r" % (i + 1, g["text"][:80], g["ids"][:20], g["decoded"][:80],
                                                           got["ids"][:20], got["decoded"][:80]))
    print("tokenizer golden: %d / %d lines match (ids and decoded text)" % (matched, len(golden)))
    return 0 if matched == len(golden) == len(lines) else 1


sys.exit(main())
