#!/usr/bin/python3
"""Exports the float MobileNetV2 reference (tools/mbv2_reference.py: the TFLite weights,
the same ops) to ONNX, up to the 7x7x1280 grid, for the benchmark against
onnxruntime-web (scripts/bench_wasm.sh). Input: NHWC float32 [1, 224, 224, 3] already
normalized; output: [1, 49, 1280].

Usage: export_onnx.py OUT.onnx
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mbv2_reference  # noqa: E402


class Encoder(nn.Module):
    def __init__(self, ref):
        super().__init__()
        self.ops = ref.ops[:ref.outputs["grid"]]  # up to the grid
        self.weights = nn.ParameterList()
        self.plan = []
        for o in self.ops:
            entry = dict(o)
            if "weight" in o:
                kh, kw = o["kernel"]
                w = torch.from_numpy(o["weight"])
                w = (w.reshape(w.shape[0], kh, kw, -1).permute(0, 3, 1, 2) if o["type"] == "conv2d"
                     else w.reshape(kh, kw, -1).permute(2, 0, 1)[:, None])
                entry["w"] = len(self.weights)
                self.weights.append(nn.Parameter(w.contiguous(), requires_grad=False))
                self.weights.append(nn.Parameter(torch.from_numpy(o["bias"]), requires_grad=False))
            self.plan.append(entry)

    def forward(self, x):
        values = [x.permute(0, 3, 1, 2)]
        for o in self.plan:
            a = values[o["inputs"][0]]
            if o["type"] in ("conv2d", "depthwise"):
                kh, kw = o["kernel"]
                (sh, sw), (pt, pl) = o["stride"], o["pad"]
                oh, ow = o["shape"][:2]
                pb = max((oh - 1) * sh + kh - a.shape[2] - pt, 0)
                pr = max((ow - 1) * sw + kw - a.shape[3] - pl, 0)
                if pt or pb or pl or pr:
                    a = F.pad(a, (pl, pr, pt, pb))
                w, b = self.weights[o["w"]], self.weights[o["w"] + 1]
                y = F.conv2d(a, w, b, stride=(sh, sw), groups=1 if o["type"] == "conv2d" else w.shape[0])
            elif o["type"] == "add":
                y = a + values[o["inputs"][1]]
            if o.get("activation") == "relu6":
                y = y.clamp(0, 6)
            values.append(y)
        g = values[-1]
        return g.permute(0, 2, 3, 1).reshape(1, -1, g.shape[1])


def main():
    enc = Encoder(mbv2_reference.Reference()).eval()
    x = torch.zeros(1, 224, 224, 3)
    torch.onnx.export(enc, x, sys.argv[1], input_names=["pixels"], output_names=["grid"], opset_version=13)
    print("%s: %d bytes" % (sys.argv[1], os.path.getsize(sys.argv[1])))


if __name__ == "__main__":
    main()
