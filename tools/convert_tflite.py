#!/usr/bin/python3
"""Converts a TFLite image classifier built from CONV_2D, DEPTHWISE_CONV_2D, ADD,
AVERAGE_POOL_2D, RESHAPE and SOFTMAX (MobileNetV2) into a .capt encoder: the dequantized
network as a list of ops (docs/mobilenet_v2.md), preprocessing and labels.

Usage: convert_tflite.py MODEL.tflite LABELS.txt OUT.capt [--q8-max-error E] [--input-size N]
                                                  [--logit-scale S]

TFLite's per-tensor uint8 weights are integers times one scale. Every layer up to the
visual-token grid keeps them exactly (see choose_dtype): q8_0 when each block holds its
integers, else f16 integers, with the scale as a per-layer `output_scale`. The first
convolution (it sees raw pixels) and every bias stay f32, the depthwise weights are f16
integers with a weight_scale the engine applies at load (the same f32 weights);
the classifier head, after the grid, is q8_0 when its error is below --q8-max-error.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tflite  # noqa: E402
from captfile import CaptWriter, dequantize, quantize_q8_0, quantize_q8_0_integers  # noqa: E402


def same_padding(in_size, out_size, kernel, stride):
    """TFLite SAME: total = max((out-1)*stride + k - in, 0), the extra pixel at the end."""
    total = max((out_size - 1) * stride + kernel - in_size, 0)
    return total // 2


def output_shape(opt, in_shape, out_channels, kernel):
    """[H, W, C] of a convolution's output: SAME gives ceil(in / stride), VALID
    (in - k) // stride + 1 (TFLite's rules)."""
    if opt["padding"] == "same":
        hw = [-(-in_shape[i] // opt["stride"][i]) for i in range(2)]
    else:
        hw = [(in_shape[i] - kernel[i]) // opt["stride"][i] + 1 for i in range(2)]
    if min(hw) < 1:
        raise ValueError("the input is too small for this network (a %dx%d input to a %dx%d kernel)"
                         % (in_shape[0], in_shape[1], kernel[0], kernel[1]))
    return hw + [out_channels]


def input_shape(model, input_size=None):
    """[H, W, C] of the network's input: the graph's, or input_size x input_size."""
    shape = list(model.tensors[model.inputs[0]].shape[1:])
    if input_size is not None:
        shape[:2] = [input_size, input_size]
    return shape


def graph_ops(model, input_size=None):
    """The network as capt ops over value ids (0 = the input image; op i writes value i+1).
    Returns (ops, outputs) where each op is a dict and outputs maps grid/pooled/logits.
    input_size runs the (fully convolutional) network on a square input of that size
    instead of the graph's: every shape follows from it, and the average pool stays global."""
    value_of = {model.inputs[0]: 0}
    shape_of = {0: tuple(input_shape(model, input_size))}
    ops, outputs = [], {}
    for op in model.operators:
        ins = op.inputs
        out_t = model.tensors[op.outputs[0]]
        if op.name in ("RESHAPE", "SOFTMAX"):
            # Layout-preserving: the same values under another tensor index. The logits are
            # what SOFTMAX reads; capt reports logits and applies softmax where needed.
            value_of[op.outputs[0]] = value_of[ins[0]]
            if op.name == "SOFTMAX":
                outputs["logits"] = value_of[ins[0]]
            continue
        o = {"inputs": [value_of[i] for i in ins if i in value_of], "shape": list(out_t.shape[1:])}
        in_shape = shape_of[o["inputs"][0]]
        if op.name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            opt = op.options
            if opt["dilation"] != (1, 1):
                raise ValueError("dilated convolutions are not supported")
            wt = model.tensors[ins[1]]
            w = wt.real()
            b = model.tensors[ins[2]].real() if len(ins) > 2 and ins[2] >= 0 else np.zeros(w.shape[0], np.float32)
            kh, kw = w.shape[1], w.shape[2]
            (sh, sw) = opt["stride"]
            o["shape"] = output_shape(opt, in_shape, list(out_t.shape)[-1], (kh, kw))
            pads = [0, 0]
            if opt["padding"] == "same":
                pads = [same_padding(in_shape[0], o["shape"][0], kh, sh), same_padding(in_shape[1], o["shape"][1], kw, sw)]
            o.update(kernel=[kh, kw], stride=[sh, sw], pad=pads, activation=opt["activation"])
            if op.name == "CONV_2D":
                o["type"] = "conv2d"
                o["weight"] = w.reshape(w.shape[0], -1)  # [Cout, kh*kw*Cin]
            else:
                if opt["depth_multiplier"] != 1:
                    raise ValueError("depth_multiplier != 1 is not supported")
                o["type"] = "depthwise"
                o["weight"] = w.reshape(kh * kw, w.shape[3])  # [kh*kw, C]
            if wt.scale is not None and len(wt.scale) == 1 and wt.data.dtype in (np.uint8, np.int8):
                # Per-tensor integer weights: stored exactly (q8_0_blocks, choose_dtype).
                o["integers"] = (wt.data.astype(np.int64) - int(wt.zero_point[0])).reshape(o["weight"].shape)
                o["scale"] = float(wt.scale[0])
            o["bias"] = b.astype(np.float32)
        elif op.name == "ADD":
            o.update(type="add", activation=op.options["activation"], shape=list(in_shape))
        elif op.name == "AVERAGE_POOL_2D":
            opt = op.options
            pooled_hw = tuple(in_shape[:2]) if input_size is None else tuple(model.tensors[ins[0]].shape[1:3])
            if opt["filter"] != pooled_hw or opt["padding"] != "valid":
                raise ValueError("only global average pooling is supported")
            o.update(type="mean")
            outputs["grid"] = o["inputs"][0]
            outputs["pooled"] = len(ops) + 1
        else:
            raise ValueError("unsupported operator %s" % op.name)
        if o.get("activation", "none") not in ("none", "relu6"):
            raise ValueError("unsupported activation %s" % o["activation"])
        if input_size is None and o["shape"] != list(out_t.shape[1:]):
            raise ValueError("%s: computed shape %s, the graph says %s" % (op.name, o["shape"], list(out_t.shape[1:])))
        value_of[op.outputs[0]] = len(ops) + 1
        shape_of[len(ops) + 1] = tuple(o["shape"])
        ops.append(o)
    for key in ("grid", "pooled", "logits"):
        if key not in outputs:
            raise ValueError("the graph has no %s output" % key)
    return ops, outputs


def q8_0_blocks(o):
    """q8_0 bytes of a conv weight and the output scale alpha that goes with them: the
    TFLite integers exactly (alpha corrects the f16 rounding of their scale), else plain
    q8_0 of the real values (alpha 1)."""
    if "integers" in o:
        return quantize_q8_0_integers(o["integers"], o["scale"])
    return quantize_q8_0(o["weight"]), 1.0


SMALL_TENSOR = 1 << 16  # elements: stored f32 when q8_0 does not fit, cheap at this size


def choose_dtype(o, first, head, max_error):
    """How to store a conv weight: (dtype, values or raw bytes, output scale). The
    features must come out as the float network's (MobileNetV2 amplifies weight error
    tenfold and more: f16 rounding alone moves its grid by ~1%), so every layer up to
    the grid is exact:
    - TFLite integer weights in q8_0 when every block holds them (d = the scale), else
      as f16 integers (exact below 2048) with the scale applied to the layer's output;
    - the first conv (it sees raw pixels) and small tensors q8_0 cannot hold: f32.
    The classifier head, after the grid, only ranks labels: q8_0 within max_error."""
    w = o["weight"]
    if first or (w.size <= SMALL_TENSOR and w.shape[-1] % 32):
        return "f32", w, 1.0
    if w.shape[-1] % 32 == 0:
        raw, alpha = q8_0_blocks(o)
        err = np.linalg.norm(dequantize(raw.tobytes(), "q8_0", w.shape) * alpha - w) / np.linalg.norm(w)
        if err <= 1e-6 or (head and err <= max_error):
            return "q8_0", raw, alpha
    if "integers" in o:
        return "f16", o["integers"].astype(np.float32), o["scale"]
    return "f16", w, 1.0


def convert(tflite_path, labels_path, q8_max_error=1e-2, prefix="encoder", input_size=None, logit_scale=1.0):
    """logit_scale multiplies the classifier's logits (a softmax temperature of 1/logit_scale):
    the head was trained on 224x224 pixels and is less confident on other sizes."""
    if not 0 < logit_scale < float("inf"):
        raise ValueError("the logit scale must be positive and finite, not %g" % logit_scale)
    model = tflite.read_tflite(tflite_path)
    ops, outputs = graph_ops(model, input_size)
    labels = [line.rstrip("\n") for line in open(labels_path, encoding="utf-8")]
    in_shape = input_shape(model, input_size)
    w = CaptWriter()
    w.add_meta("general.architecture", "convnet")
    w.add_meta("general.name", os.path.basename(tflite_path))
    w.add_meta("general.license", "Apache-2.0 (MobileNetV2 weights, Google)")
    w.add_meta("preprocess.width", in_shape[1])
    w.add_meta("preprocess.height", in_shape[0])
    w.add_meta("preprocess.resize", "stretch")
    # TFLite input: uint8 p with scale 1/128, zero point 128, i.e. (p/255 - mean)/std
    # with mean = std = 128/255.
    w.add_meta("preprocess.mean", [128 / 255] * 3)
    w.add_meta("preprocess.std", [128 / 255] * 3)
    w.add_meta(prefix + ".type", "convnet")
    w.add_meta(prefix + ".input", in_shape)
    w.add_meta(prefix + ".n_ops", len(ops))
    for key, value in outputs.items():
        w.add_meta("%s.%s" % (prefix, key), value)
    w.add_meta(prefix + ".labels", labels)
    dtypes = {}
    for i, o in enumerate(ops):
        p = "%s.op.%d." % (prefix, i)
        w.add_meta(p + "type", o["type"])
        w.add_meta(p + "inputs", o["inputs"])
        w.add_meta(p + "shape", o["shape"])
        if "activation" in o:
            w.add_meta(p + "activation", o["activation"])
        if "weight" in o:
            w.add_meta(p + "kernel", o["kernel"])
            w.add_meta(p + "stride", o["stride"])
            w.add_meta(p + "pad", o["pad"])
            if o["type"] == "depthwise":
                # The engine converts depthwise weights to f32 at load: the integers as f16
                # (exact) and their scale, which the engine multiplies in as tflite.real()
                # does (in double, then rounded to f32), so the f32 weights are the same.
                dt, stored, alpha = "f32", o["weight"], 1.0
                if "integers" in o and np.abs(o["integers"]).max() < 2048:
                    dt, stored = "f16", o["integers"].astype(np.float32)
                    w.add_meta(p + "weight_scale", o["scale"])
            else:
                dt, stored, alpha = choose_dtype(o, i == 0, i + 1 > outputs["grid"], q8_max_error)
            scale = alpha * logit_scale if i + 1 == outputs["logits"] else alpha  # value v is op v-1's
            dtypes[dt] = dtypes.get(dt, 0) + 1
            if stored.dtype == np.uint8:  # encoded q8_0 blocks
                w.add_tensor_raw(p + "weight", stored.tobytes(), dt, o["weight"].shape)
            else:
                w.add_tensor(p + "weight", stored, dt)
            # y = alpha * (x . W_stored^T + bias / alpha), times the logit scale for the head
            if scale != 1.0:
                w.add_meta(p + "output_scale", scale)
            w.add_tensor(p + "bias", o["bias"] / np.float32(alpha), "f32")
    return w, dtypes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("tflite")
    ap.add_argument("labels")
    ap.add_argument("out")
    ap.add_argument("--q8-max-error", type=float, default=1e-2,
                    help="largest relative L2 error of the classifier head in q8_0 (default 1e-2)")
    ap.add_argument("--input-size", type=int, help="run the network at this square input size instead of the graph's")
    ap.add_argument("--logit-scale", type=float, default=1.0,
                    help="multiply the classifier's logits by this (calibrates its confidence at another input size)")
    args = ap.parse_args()
    try:
        w, dtypes = convert(args.tflite, args.labels, args.q8_max_error, input_size=args.input_size,
                            logit_scale=args.logit_scale)
    except ValueError as e:
        print("convert_tflite: %s" % e, file=sys.stderr)
        return 1
    w.write(args.out)
    print("%s: %d bytes, weights %s" % (args.out, os.path.getsize(args.out),
                                        ", ".join("%s x %d" % kv for kv in sorted(dtypes.items()))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
