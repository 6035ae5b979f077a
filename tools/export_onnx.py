#!/usr/bin/python3
"""Exports the float MobileNetV2 reference (tools/mbv2_reference.py: the TFLite weights,
the same ops) to ONNX, up to the 7x7x1280 grid, for the benchmark against
onnxruntime-web (scripts/bench_wasm.mjs). Input: NHWC float32 [1, 224, 224, 3] already
normalized; output: [1, 49, 1280].

Usage: export_onnx.py OUT.onnx
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mbv2_reference  # noqa: E402


class GridEncoder(torch.nn.Module):
    def __init__(self, ref):
        super().__init__()
        self.net = mbv2_reference.ConvNet(ref.ops[:ref.outputs["grid"]])  # up to the grid

    def forward(self, x):
        g = self.net(x.permute(0, 3, 1, 2))[-1]
        return g.permute(0, 2, 3, 1).reshape(1, -1, g.shape[1])


def main():
    enc = GridEncoder(mbv2_reference.Reference()).eval()
    torch.onnx.export(enc, torch.zeros(1, 224, 224, 3), sys.argv[1], input_names=["pixels"], output_names=["grid"],
                      opset_version=13)
    print("%s: %d bytes" % (sys.argv[1], os.path.getsize(sys.argv[1])))


if __name__ == "__main__":
    main()
