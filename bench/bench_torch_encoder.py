#!/usr/bin/python3
"""The peer of `capt bench encoder`: PyTorch running the same MobileNetV2 encoder
(tools/mbv2_reference.py, float32, up to the 7x7x1280 grid) on one thread, on an input
already decoded and normalized. Prints the median ms per image.

Usage: bench_torch_encoder.py [RUNS]
"""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import export_onnx  # noqa: E402  (its GridEncoder: the reference up to the grid)
import mbv2_reference  # noqa: E402


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    torch.set_num_threads(1)
    encoder = export_onnx.GridEncoder(mbv2_reference.Reference()).eval()
    x = torch.rand(1, 224, 224, 3) * 2 - 1
    times = []
    with torch.no_grad():
        for _ in range(5):
            encoder(x)
        for _ in range(runs):
            t0 = time.perf_counter()
            encoder(x)
            times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    print("pytorch %s encoder, 1 thread: %.2f ms (median of %d; best %.2f)" % (torch.__version__, times[len(times) // 2],
                                                                             runs, times[0]))


if __name__ == "__main__":
    main()
