#!/usr/bin/python3
"""The float PyTorch reference of capt's convolutional encoder, built straight from the
TFLite file (exact dequantized weights, float32), with the preprocessing of
docs/mobilenet_v2.md: Pillow decoding, EXIF transpose, alpha over white, Pillow BILINEAR resize
to the input size, (p/255 - mean)/std.

    mbv2_reference.py --golden tests/golden/mbv2_features.npz --decoder build/capt
    mbv2_reference.py --check tests/golden/mbv2_features.npz --decoder build/capt
    mbv2_reference.py --classify IMAGE...                                top-5 labels

The network is extremely sensitive to its input (Gaussian noise of half a level moves the
grid by ~15%; libjpeg-turbo and stb_image, 0.07 levels apart on average, by ~2.5%), so
the golden file is computed from the pixels capt itself decodes (`capt decode`, given
with --decoder); Pillow decodes otherwise.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import convert_tflite  # noqa: E402
import tflite  # noqa: E402

ASSETS = os.environ.get("CAPT_ASSETS", os.path.join(HERE, "..", "..", "shared"))
TFLITE = os.path.join(ASSETS, "models", "mobilenet_v2_1.0_224_quant.tflite")
LABELS = os.path.join(ASSETS, "models", "imagenet_labels.txt")
MEAN = STD = 128 / 255


def load_rgb(path, decoder=None):
    """uint8 [H, W, 3]: EXIF-upright, gray expanded, alpha composited over white; decoded
    by `decoder` (a capt binary, or a command list that runs one: `capt decode`) when
    given, else by Pillow."""
    if decoder:
        with tempfile.TemporaryDirectory() as tmp:
            ppm = os.path.join(tmp, "x.ppm")
            command = list(decoder) if isinstance(decoder, (list, tuple)) else [decoder]
            subprocess.run(command + ["decode", path, ppm], check=True)
            return np.asarray(Image.open(ppm).convert("RGB"))
    im = ImageOps.exif_transpose(Image.open(path))
    rgba = np.asarray(im.convert("RGBA"), dtype=np.int32)
    a = rgba[..., 3:4]
    return ((rgba[..., :3] * a + 255 * (255 - a) + 127) // 255).astype(np.uint8)


def preprocess(rgb, size):
    im = Image.fromarray(rgb)
    if im.size != (size[1], size[0]):
        im = im.resize((size[1], size[0]), Image.BILINEAR)
    return (np.asarray(im, dtype=np.float32) / 255 - MEAN) / STD  # [H, W, 3]


class ConvNet(torch.nn.Module):
    """The op list of convert_tflite.graph_ops as a torch module (NCHW): forward returns
    every value, value 0 being the input."""

    def __init__(self, ops):
        super().__init__()
        self.ops = ops
        for i, o in enumerate(ops):
            if "weight" in o:
                kh, kw = o["kernel"]
                w = torch.from_numpy(o["weight"])
                w = (w.reshape(w.shape[0], kh, kw, -1).permute(0, 3, 1, 2) if o["type"] == "conv2d"
                     else w.reshape(kh, kw, -1).permute(2, 0, 1)[:, None])
                self.register_buffer("w%d" % i, w.contiguous())
                self.register_buffer("b%d" % i, torch.from_numpy(o["bias"]))

    def forward(self, x):
        values = [x]
        for i, o in enumerate(self.ops):
            a = values[o["inputs"][0]]
            if o["type"] in ("conv2d", "depthwise"):
                kh, kw = o["kernel"]
                (sh, sw), (pt, pl) = o["stride"], o["pad"]
                oh, ow = o["shape"][:2]
                pb = max((oh - 1) * sh + kh - a.shape[2] - pt, 0)  # TFLite SAME: the rest at the end
                pr = max((ow - 1) * sw + kw - a.shape[3] - pl, 0)
                if pt or pb or pl or pr:
                    a = F.pad(a, (pl, pr, pt, pb))
                w = getattr(self, "w%d" % i)
                y = F.conv2d(a, w, getattr(self, "b%d" % i), stride=(sh, sw),
                             groups=1 if o["type"] == "conv2d" else w.shape[0])
            elif o["type"] == "add":
                y = a + values[o["inputs"][1]]
            elif o["type"] == "mean":
                y = a.mean(dim=(2, 3), keepdim=True)
            if o.get("activation") == "relu6":
                y = y.clamp(0, 6)
            values.append(y)
        return values


def class_probs(logits, logit_scale=1.0):
    """Softmax of logit_scale x the head's logits (convert_tflite.py --logit-scale), float64."""
    z = logit_scale * np.asarray(logits, dtype=np.float64)
    p = np.exp(z - z.max())
    return p / p.sum()


class Reference:
    """The whole encoder on one image."""

    def __init__(self, tflite_path=TFLITE, input_size=None):
        """input_size: a square input size other than the graph's (convert_tflite.py --input-size)."""
        model = tflite.read_tflite(tflite_path)
        self.ops, self.outputs = convert_tflite.graph_ops(model, input_size)
        self.input_shape = convert_tflite.input_shape(model, input_size)
        self.net = ConvNet(self.ops).eval()

    @torch.no_grad()
    def __call__(self, x):
        """x: [H, W, 3] float -> dict of grid [h*w, C], pooled [C], logits [classes]."""
        values = self.net(torch.from_numpy(np.ascontiguousarray(x)).permute(2, 0, 1)[None])
        grid = values[self.outputs["grid"]][0]
        return {"grid": grid.permute(1, 2, 0).reshape(-1, grid.shape[0]).numpy(),
                "pooled": values[self.outputs["pooled"]].reshape(-1).numpy(),
                "logits": values[self.outputs["logits"]].reshape(-1).numpy()}

    def features(self, path, decoder=None):
        return self(preprocess(load_rgb(path, decoder), self.input_shape[:2]))


def golden_images():
    """The four shared photos and the first 20 Flickr8k test images."""
    photos = sorted(os.listdir(os.path.join(ASSETS, "data", "photos")))
    test = open(os.path.join(ASSETS, "data", "flickr8k", "Flickr_8k.testImages.txt")).read().split()[:20]
    return ([os.path.join("data", "photos", p) for p in photos] +
            [os.path.join("data", "flickr8k", "images", t) for t in test])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--golden", help="write this .npz for the golden images")
    ap.add_argument("--check", help="recompute the golden file and compare")
    ap.add_argument("--classify", nargs="+")
    ap.add_argument("--decoder", help="a capt binary whose `decode` gives the pixels")
    args = ap.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    ref = Reference()
    if args.classify:
        labels = [line.rstrip("\n") for line in open(LABELS)]
        for path in args.classify:
            p = class_probs(ref.features(path)["logits"])
            print(path)
            for c in np.argsort(-p)[:5]:
                print("  %.4f  %s" % (p[c], labels[c]))
    if args.golden:
        names = golden_images()
        feats = [ref.features(os.path.join(ASSETS, n), args.decoder) for n in names]
        np.savez_compressed(args.golden, names=np.array(names), grid=np.stack([f["grid"] for f in feats]).astype(np.float16),
                            pooled=np.stack([f["pooled"] for f in feats]), top5=np.stack(
                                [np.argsort(-f["logits"])[:5] for f in feats]))
        print("wrote %s (%d images)" % (args.golden, len(names)))
    if args.check:
        g = np.load(args.check)
        worst = 0.0
        for i, n in enumerate(g["names"]):
            grid = ref.features(os.path.join(ASSETS, str(n)), args.decoder)["grid"]
            ref_grid = g["grid"][i].astype(np.float32)
            worst = max(worst, np.linalg.norm(grid - ref_grid) / np.linalg.norm(ref_grid))
        print("reference vs golden: worst relative L2 %.2e over %d images" % (worst, len(g["names"])))
        return 0 if worst < 2e-3 else 1  # f16 storage only
    return 0


if __name__ == "__main__":
    sys.exit(main())
