#!/usr/bin/python3
"""Combines .capt files (e.g. an encoder and a decoder) into one model file: all their
metadata and tensors; `general.*` keys come from the first file unless given with --set;
any other key or tensor name that appears twice is an error.

Usage: combine_capt.py OUT.capt IN.capt... [--set KEY=VALUE]...
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from captfile import CaptWriter, read_capt  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("--set", action="append", default=[], help="KEY=VALUE string metadata to set")
    args = ap.parse_args()
    w = CaptWriter()
    overrides = dict(kv.split("=", 1) for kv in args.set)
    seen = set()
    for key, value in overrides.items():
        w.add_meta(key, value)
        seen.add(key)
    for i, path in enumerate(args.inputs):
        f = read_capt(path)
        for key, value in f.meta.items():
            if key in seen:
                if key.startswith("general."):
                    continue
                sys.exit("%s: metadata %s is already set by an earlier file" % (path, key))
            if key.startswith("general.") and i > 0:
                continue
            seen.add(key)
            w.add_meta(key, value)
        for t in f.tensors.values():
            w.add_tensor_raw(t.name, t.raw, t.dtype, t.shape)
    w.write(args.out)
    print("%s: %d bytes" % (args.out, os.path.getsize(args.out)))


if __name__ == "__main__":
    main()
