"""Reads a TensorFlow.js graph model (model.json + weight shards): its nodes and its
weights as numpy arrays, the input of both the CenterNet converter and its reference.

    g = TfjsGraph("centernet.json")
    g.nodes["tower_0/Sigmoid"]   # Node(name, op, inputs, attrs)
    g.weights["CenternetHead/centernet_cls_output/biases"]   # float32 [80]

Only what the detector's graph uses is read: float32, float16-quantized float32 and
int32 weights; attributes as ints, floats, strings, bools and int lists.
"""
import base64
import json
import os

import numpy as np


class Node:
    def __init__(self, name, op, inputs, attrs):
        self.name, self.op, self.inputs, self.attrs = name, op, inputs, attrs

    def __repr__(self):
        return "Node(%s %s <- %s)" % (self.op, self.name, ", ".join(self.inputs))


def _attr(value):
    if "list" in value:
        lst = value["list"]
        if "i" in lst:
            return [int(v) for v in lst["i"]]
        if "s" in lst:
            return [base64.b64decode(v).decode() for v in lst["s"]]
        return []
    if "s" in value:
        return base64.b64decode(value["s"]).decode()
    if "i" in value:
        return int(value["i"])
    if "f" in value:
        return float(value["f"])
    if "b" in value:
        return bool(value["b"])
    if "type" in value:
        return value["type"]
    return value


class TfjsGraph:
    def __init__(self, json_path):
        with open(json_path) as f:
            model = json.load(f)
        if model.get("format") != "graph-model":
            raise ValueError("%s is not a TensorFlow.js graph model" % json_path)
        self.signature = model.get("signature", {})
        self.nodes = {}
        self.order = []  # the nodes in file order (TF.js writes them topologically sorted)
        for n in model["modelTopology"]["node"]:
            node = Node(n["name"], n["op"], list(n.get("input", [])),
                        {k: _attr(v) for k, v in n.get("attr", {}).items()})
            self.nodes[node.name] = node
            self.order.append(node)
        self.weights = {}
        folder = os.path.dirname(os.path.abspath(json_path))
        for group in model["weightsManifest"]:
            data = b"".join(open(os.path.join(folder, p), "rb").read() for p in group["paths"])
            offset = 0
            for w in group["weights"]:
                count = int(np.prod(w["shape"])) if w["shape"] else 1
                quant = w.get("quantization")
                if quant and quant.get("dtype") == "float16":
                    dtype = np.float16
                elif quant:
                    raise ValueError("weight %s: %s quantization is not supported" % (w["name"], quant["dtype"]))
                else:
                    dtype = {"float32": np.float32, "int32": np.int32}[w["dtype"]]
                size = count * np.dtype(dtype).itemsize
                if offset + size > len(data):
                    raise ValueError("weight %s runs past the end of the weight data" % w["name"])
                a = np.frombuffer(data, dtype, count, offset)
                offset += size
                self.weights[w["name"]] = (a.astype(np.float32) if dtype == np.float16 else a.copy()).reshape(w["shape"])
            if offset != len(data):
                raise ValueError("%d bytes of weight data are not described by the manifest" % (len(data) - offset))

    def const(self, name):
        """The value of a Const node (its weight)."""
        name = name.split(":")[0]
        if self.nodes[name].op != "Const":
            raise ValueError("%s is not a constant" % name)
        return self.weights[name]

    def is_const(self, name):
        return self.nodes[name.split(":")[0]].op == "Const"

    def consumers(self, name):
        """The nodes that read `name`."""
        return [n for n in self.order if any(i.split(":")[0] == name for i in n.inputs)]
