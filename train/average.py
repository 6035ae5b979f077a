#!/usr/bin/python3
"""Averages the weights of several checkpoints of one run (e.g. its last epochs), a cheap
ensemble: average.py OUT.pt IN.pt...  (OUT.pt loads like train.py's best.pt)."""
import sys

import torch


def main():
    out, inputs = sys.argv[1], sys.argv[2:]
    cks = [torch.load(p, map_location="cpu") for p in inputs]
    avg = {k: sum(ck["model"][k].float() for ck in cks) / len(cks) for k in cks[0]["model"]}
    torch.save({"model": avg, "config": cks[0]["config"], "vocab": cks[0]["vocab"],
                "averaged": [int(ck.get("epoch", -1)) for ck in cks]}, out)
    print("%s: average of %d checkpoints" % (out, len(cks)))


if __name__ == "__main__":
    main()
