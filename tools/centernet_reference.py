#!/usr/bin/python3
"""The float PyTorch reference of capt's COCO detector: the TensorFlow.js graph of
CenterNet MobileNetV3 (../shared/models/centernet-mbv3-coco) executed node by node as the
graph states it, independently of tools/convert_centernet.py, and its detections decoded
as the graph's own TopKV2 post-processing does (docs/detector.md).

    centernet_reference.py IMAGE... [--size 320] [--decoder build/capt]   detections
    centernet_reference.py --check-postprocess                            own decoding == the graph's (at 512)

Input: the photo stretched to size x size (Pillow BILINEAR, as capt), then p/255
(docs/detector.md: the normalisation measured on photos). Outputs: the class heatmap
after the sigmoid [S/4, S/4, 80], the box offsets [S/4, S/4, 4] in input pixels, and the
top-K peaks (3x3 max-pool suppression) as (x1, y1, x2, y2, score, class) in input pixels.
"""
import argparse
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from tfjs_graph import TfjsGraph  # noqa: E402

ASSETS = os.environ.get("CAPT_ASSETS", os.path.join(HERE, "..", "..", "shared"))
GRAPH = os.path.join(ASSETS, "models", "centernet-mbv3-coco", "centernet.json")
INPUT = "tower_0/images"
HEATMAP, BOXES, DETECTIONS = "tower_0/keypoints", "tower_0/wh", "tower_0/detections"
STRIDE = 4  # input pixels per heatmap cell

# The 80 COCO categories in the detector's class order (the COCO 2017 category ids in
# ascending order, without the 11 unused ids).
COCO_CLASSES = ("person|bicycle|car|motorcycle|airplane|bus|train|truck|boat|traffic light|fire hydrant|stop sign|"
                "parking meter|bench|bird|cat|dog|horse|sheep|cow|elephant|bear|zebra|giraffe|backpack|umbrella|"
                "handbag|tie|suitcase|frisbee|skis|snowboard|sports ball|kite|baseball bat|baseball glove|"
                "skateboard|surfboard|tennis racket|bottle|wine glass|cup|fork|knife|spoon|bowl|banana|apple|"
                "sandwich|orange|broccoli|carrot|hot dog|pizza|donut|cake|chair|couch|potted plant|bed|"
                "dining table|toilet|tv|laptop|mouse|remote|keyboard|cell phone|microwave|oven|toaster|sink|"
                "refrigerator|book|clock|vase|scissors|teddy bear|hair drier|toothbrush").split("|")
assert len(COCO_CLASSES) == 80


def same_pads(size, kernel, stride):
    """TensorFlow's SAME padding of one axis: (before, after)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def resize_bilinear_legacy(x, out_h, out_w):
    """tf.image.resize_bilinear with align_corners=False, half_pixel_centers=False:
    output pixel i reads input position i * in / out. x: [1, H, W, C]."""
    _, h, w, _ = x.shape

    def axis(n_in, n_out):
        src = torch.arange(n_out, dtype=torch.float32) * (n_in / n_out)
        lo = src.floor().long().clamp(max=n_in - 1)
        return lo, (lo + 1).clamp(max=n_in - 1), (src - lo.float())

    y0, y1, fy = axis(h, out_h)
    x0, x1, fx = axis(w, out_w)
    top = x[:, y0][:, :, x0] + (x[:, y0][:, :, x1] - x[:, y0][:, :, x0]) * fx[None, None, :, None]
    bottom = x[:, y1][:, :, x0] + (x[:, y1][:, :, x1] - x[:, y1][:, :, x0]) * fx[None, None, :, None]
    return top + (bottom - top) * fy[None, :, None, None]


class GraphRunner:
    """Executes the graph's nodes on NHWC float32 tensors (batch 1)."""

    def __init__(self, graph=None):
        self.g = graph or TfjsGraph(GRAPH)

    def _conv(self, node, x, depthwise):
        w = torch.from_numpy(self.g.const(node.inputs[1]))                         # [kh, kw, Cin, Cout|1]
        kh, kw = w.shape[0], w.shape[1]
        stride = node.attrs.get("strides", [1, 1, 1, 1])
        if node.attrs.get("dilations", [1, 1, 1, 1]) != [1, 1, 1, 1]:
            raise ValueError("%s: dilated convolution" % node.name)
        sh, sw = stride[1], stride[2]
        xt = x.permute(0, 3, 1, 2)                                                  # NCHW
        if node.attrs.get("padding") == "SAME":
            top, bottom = same_pads(xt.shape[2], kh, sh)
            left, right = same_pads(xt.shape[3], kw, sw)
            xt = F.pad(xt, (left, right, top, bottom))
        if depthwise:
            weight = w.permute(2, 3, 0, 1).reshape(w.shape[2] * w.shape[3], 1, kh, kw)
            y = F.conv2d(xt, weight, stride=(sh, sw), groups=w.shape[2])
        else:
            y = F.conv2d(xt, w.permute(3, 2, 0, 1), stride=(sh, sw))
        y = y.permute(0, 2, 3, 1)
        fused = node.attrs.get("fused_ops", [])
        if fused:
            if fused[0] != "BiasAdd":
                raise ValueError("%s: fused %s" % (node.name, fused))
            y = y + torch.from_numpy(self.g.const(node.inputs[2]))
            for act in fused[1:]:
                y = {"Relu": torch.relu, "Relu6": lambda t: t.clamp(0, 6)}[act](y)
        return y

    def run(self, image, until=(HEATMAP, BOXES)):
        """image: float32 [H, W, 3] (the network's input) -> {name: tensor} of `until`."""
        values = {INPUT: torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None]}

        def get(name):
            base, _, index = name.partition(":")
            if self.g.is_const(base):
                return torch.from_numpy(np.asarray(self.g.const(base)))
            v = values[base]
            return v[int(index)] if index else (v[0] if isinstance(v, tuple) else v)

        needed = self._ancestors(until)
        for node in self.g.order:
            if node.op in ("Const", "Placeholder") or node.name not in needed:
                continue
            a = [get(i) for i in node.inputs]
            op = node.op
            if op == "_FusedConv2D" or op == "Conv2D":
                y = self._conv(node, a[0], depthwise=False)
            elif op in ("FusedDepthwiseConv2dNative", "DepthwiseConv2dNative"):
                y = self._conv(node, a[0], depthwise=True)
            elif op == "Mul":
                y = a[0] * a[1]
            elif op == "Add" or op == "AddV2":
                y = a[0] + a[1]
            elif op == "Sub":
                y = a[0] - a[1]
            elif op == "Relu6":
                y = a[0].clamp(0, 6)
            elif op == "Relu":
                y = torch.relu(a[0])
            elif op == "Sigmoid":
                y = torch.sigmoid(a[0])
            elif op == "Identity":
                y = a[0]
            elif op == "Mean":
                y = a[0].mean(dim=tuple(int(d) for d in a[1].reshape(-1)), keepdim=bool(node.attrs.get("keep_dims")))
            elif op == "ConcatV2":
                y = torch.cat(a[:-1], dim=int(a[-1]))
            elif op == "ResizeBilinear":
                if node.attrs.get("align_corners") or node.attrs.get("half_pixel_centers"):
                    raise ValueError("%s: only the legacy resize is supported" % node.name)
                # The graph's size is a constant for its 512x512 input: twice the input's.
                y = resize_bilinear_legacy(a[0], 2 * a[0].shape[1], 2 * a[0].shape[2])
            else:
                raise ValueError("%s: op %s is not part of the network" % (node.name, op))
            values[node.name] = y
        return {name: values[name][0].numpy() for name in until}

    def _ancestors(self, names):
        seen, stack = set(), list(names)
        while stack:
            n = stack.pop().split(":")[0]
            if n in seen:
                continue
            seen.add(n)
            stack.extend(self.g.nodes[n].inputs)
        return seen


def decode(heatmap, boxes, k=100):
    """The graph's post-processing: peaks of the heatmap [h, w, C] that equal their 3x3
    neighbourhood's maximum (SAME max-pool), the top k of all h*w*C scores (ties: lower
    flat index first, as TopKV2), and their boxes from the offsets [h, w, 4] at that cell:
    (x*4 - o0, y*4 - o1, x*4 + o2, y*4 + o3, score, class), in input pixels."""
    h, w, c = heatmap.shape
    t = torch.from_numpy(heatmap).permute(2, 0, 1)[None]
    pooled = F.max_pool2d(F.pad(t, (1, 1, 1, 1), value=float("-inf")), 3, stride=1)
    peaks = (t * (t == pooled).float())[0].permute(1, 2, 0).reshape(-1).numpy()
    order = np.lexsort((np.arange(peaks.size), -peaks))[:k]
    cls = order % c
    cell = order // c
    x, y = cell % w, cell // w
    o = boxes.reshape(-1, 4)[cell]
    return np.stack([x * STRIDE - o[:, 0], y * STRIDE - o[:, 1], x * STRIDE + o[:, 2], y * STRIDE + o[:, 3],
                     peaks[order], cls], 1).astype(np.float32)


def preprocess(rgb, size):
    """uint8 [H, W, 3] -> float32 [size, size, 3]: stretched (Pillow BILINEAR), p / 255."""
    from PIL import Image
    im = Image.fromarray(rgb)
    if im.size != (size, size):
        im = im.resize((size, size), Image.BILINEAR)
    return np.asarray(im, dtype=np.float32) / 255


def check_postprocess(runner):
    """At the graph's own 512x512 input, decode() must equal the graph's TopKV2 nodes."""
    rng = np.random.default_rng(0)
    image = rng.random((512, 512, 3), dtype=np.float32)
    out = GraphRunnerWithPost(runner.g).run(image)
    mine = decode(out[HEATMAP], out[BOXES])
    theirs = out[DETECTIONS]
    err = np.abs(mine - theirs).max()
    print("post-processing: max |own - graph| = %.3g over %d detections" % (err, len(mine)))
    return err < 1e-4


class GraphRunnerWithPost(GraphRunner):
    """Also executes the graph's post-processing nodes (only meaningful at 512x512, where
    their constants hold)."""

    def run(self, image, until=(HEATMAP, BOXES, DETECTIONS)):
        out = super().run(image, until=(HEATMAP, BOXES))
        hm, wh = out[HEATMAP], out[BOXES]
        h, w, c = hm.shape
        t = torch.from_numpy(hm).permute(2, 0, 1)[None]
        pooled = F.max_pool2d(F.pad(t, (1, 1, 1, 1), value=float("-inf")), 3, stride=1)
        flat = (t * (t == pooled).float())[0].permute(1, 2, 0).reshape(1, -1)
        k = int(self.g.const("tower_0/TopKV2/k"))
        scores, index = torch.topk(flat, k, sorted=True)
        index = index[0].numpy()
        n_cls = int(self.g.const("tower_0/strided_slice_7"))
        width = int(self.g.const("tower_0/strided_slice_6"))
        cls, cell = index % n_cls, index // n_cls
        x, y = cell % width, cell // width
        o = wh.reshape(-1, 4)[cell]
        m = float(self.g.const("tower_0/mul_3/y"))
        det = np.stack([x * m - o[:, 0], y * m - o[:, 1], x * m + o[:, 2], y * m + o[:, 3], scores[0].numpy(), cls], 1)
        return {HEATMAP: hm, BOXES: wh, DETECTIONS: det.astype(np.float32)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("images", nargs="*")
    ap.add_argument("--size", type=int, default=320)
    ap.add_argument("--threshold", type=float, default=0.3)
    ap.add_argument("--decoder", help="a capt binary: decode the images with `capt decode` (else Pillow)")
    ap.add_argument("--check-postprocess", action="store_true")
    args = ap.parse_args()
    runner = GraphRunner()
    if args.check_postprocess:
        sys.exit(0 if check_postprocess(runner) else 1)
    import mbv2_reference
    for path in args.images:
        rgb = mbv2_reference.load_rgb(path, args.decoder)
        out = runner.run(preprocess(rgb, args.size))
        det = decode(out[HEATMAP], out[BOXES])
        print(path)
        for d in det[det[:, 4] >= args.threshold]:
            print("  %-14s %.3f  box %6.1f %6.1f %6.1f %6.1f" % (COCO_CLASSES[int(d[5])], d[4], *d[:4]))


if __name__ == "__main__":
    main()
