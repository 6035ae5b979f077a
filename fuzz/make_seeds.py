#!/usr/bin/python3
"""Writes the model seeds of fuzz/fuzz_model.c into fuzz/corpus/model: tiny but complete
models (a 16x16 convnet encoder with an ImageNet-style head; the same with a randomly
initialised caption decoder of docs/model.md), so every fuzzing run starts from files that
load and caption in a millisecond. Deterministic.
Usage: make_seeds.py [OUT_DIR]"""
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
sys.path.insert(0, os.path.join(HERE, "..", "train"))
from captfile import CaptWriter, read_capt  # noqa: E402
import data  # noqa: E402
from clip_bpe import ClipBPE  # noqa: E402
from export import write_decoder  # noqa: E402
from model import CaptionDecoder, Config  # noqa: E402

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus", "model")
rng = np.random.default_rng(0)
torch.manual_seed(0)


def encoder(w):
    """16x16x3 -> conv 3x3/2 (8x8x8) -> depthwise 3x3/2 (the 4x4x8 grid) -> mean -> 1x1 conv: 5 classes."""
    w.add_meta("general.architecture", "convnet")
    w.add_meta("preprocess.width", 16)
    w.add_meta("preprocess.height", 16)
    w.add_meta("preprocess.resize", "stretch")
    w.add_meta("preprocess.mean", [0.5, 0.5, 0.5])
    w.add_meta("preprocess.std", [0.5, 0.5, 0.5])
    w.add_meta("encoder.type", "convnet")
    w.add_meta("encoder.input", [16, 16, 3])
    ops = [("conv2d", [0], [8, 8, 8], "relu6", [3, 3], [2, 2], [0, 0], (8, 27)),
           ("depthwise", [1], [4, 4, 8], "relu6", [3, 3], [2, 2], [0, 0], (9, 8)),
           ("mean", [2], [1, 1, 8], None, None, None, None, None),
           ("conv2d", [3], [1, 1, 5], "none", [1, 1], [1, 1], [0, 0], (5, 8))]
    w.add_meta("encoder.n_ops", len(ops))
    w.add_meta("encoder.grid", 2)
    w.add_meta("encoder.pooled", 3)
    w.add_meta("encoder.logits", 4)
    w.add_meta("encoder.labels", ["background", "cat", "dog", "coffee", "rocket"])
    for i, (kind, inputs, shape, act, kernel, stride, pad, wshape) in enumerate(ops):
        p = "encoder.op.%d." % i
        w.add_meta(p + "type", kind)
        w.add_meta(p + "inputs", inputs)
        w.add_meta(p + "shape", shape)
        if kind == "mean":
            continue
        w.add_meta(p + "activation", act)
        w.add_meta(p + "kernel", kernel)
        w.add_meta(p + "stride", stride)
        w.add_meta(p + "pad", pad)
        w.add_tensor(p + "weight", rng.normal(0, 0.3, wshape).astype(np.float32), "f32")
        w.add_tensor(p + "bias", rng.normal(0, 0.1, shape[-1]).astype(np.float32), "f32")


def decoder_file(path):
    """A random decoder over a 12-token vocabulary for the encoder's 4x4x8 grid."""
    tok = ClipBPE(data.MERGES)
    vocab = data.Vocab([tok.encode(w)[0] for w in ["a", "cat", "dog", "on", "the", "sitting", "cup", "of", "coffee", "rocket"]], tok)
    c = Config(len(vocab), d_model=32, n_heads=2, n_layers=1, d_mlp=64, max_len=24, grid_h=4, grid_w=4, d_visual=8)
    model = CaptionDecoder(c).eval()
    write_decoder(model, vocab, path, "q8_0")


def main():
    os.makedirs(OUT, exist_ok=True)
    w = CaptWriter()
    encoder(w)
    w.write(os.path.join(OUT, "encoder.capt"))
    tmp = os.path.join(OUT, "decoder.tmp")
    decoder_file(tmp)
    dec = read_capt(tmp)
    os.remove(tmp)
    w = CaptWriter()
    encoder(w)
    for key, value in dec.meta.items():
        if key.startswith("decoder."):
            w.add_meta(key, value)
    for t in dec.tensors.values():
        w.add_tensor_raw(t.name, t.raw, t.dtype, t.shape)
    w.write(os.path.join(OUT, "captioner.capt"))
    for name in sorted(os.listdir(OUT)):
        print("%s: %d bytes" % (os.path.join(OUT, name), os.path.getsize(os.path.join(OUT, name))))


if __name__ == "__main__":
    main()
