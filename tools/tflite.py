#!/usr/bin/python3
"""A small TFLite flatbuffer reader (python3-flatbuffers runtime, no generated code):
the tensors, buffers, quantization and operators of subgraph 0, with the options of the
operators capt converts. Field numbers follow tensorflow/lite/schema/schema.fbs.

    model = read_tflite("mobilenet_v2_1.0_224_quant.tflite")
    for op in model.operators: print(op.name, op.inputs, op.outputs, op.options)
    model.tensors[i].real()   # dequantized float32 numpy array (constants)
"""
import sys

import flatbuffers
import numpy as np
from flatbuffers import number_types as N

# BuiltinOperator codes and TensorType values (schema.fbs).
OPS = {0: "ADD", 1: "AVERAGE_POOL_2D", 3: "CONV_2D", 4: "DEPTHWISE_CONV_2D", 9: "FULLY_CONNECTED",
       17: "MAX_POOL_2D", 22: "RESHAPE", 25: "SOFTMAX"}
TENSOR_TYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 9: np.int8, 7: np.int16}
PADDING = {0: "same", 1: "valid"}
ACTIVATION = {0: "none", 1: "relu", 2: "relu_n1_to_1", 3: "relu6"}


class FormatError(ValueError):
    pass


class _Table:
    """Field access on one flatbuffer table; `field` is the field's index in the schema."""

    def __init__(self, buf, pos):
        self.t = flatbuffers.table.Table(buf, pos)

    def _off(self, field):
        return self.t.Offset(4 + 2 * field)

    def scalar(self, field, flags, default=0):
        o = self._off(field)
        return self.t.Get(flags, o + self.t.Pos) if o else default

    def table(self, field):
        o = self._off(field)
        return _Table(self.t.Bytes, self.t.Indirect(o + self.t.Pos)) if o else None

    def string(self, field):
        o = self._off(field)
        return self.t.String(o + self.t.Pos).decode("utf-8", "replace") if o else ""

    def vector_len(self, field):
        o = self._off(field)
        return self.t.VectorLen(o) if o else 0

    def tables(self, field):
        o = self._off(field)
        if not o:
            return []
        start = self.t.Vector(o)
        return [_Table(self.t.Bytes, self.t.Indirect(start + 4 * i)) for i in range(self.t.VectorLen(o))]

    def numbers(self, field, dtype):
        o = self._off(field)
        if not o:
            return np.zeros(0, dtype)
        start, n = self.t.Vector(o), self.t.VectorLen(o)
        return np.frombuffer(self.t.Bytes, dtype=np.dtype(dtype).newbyteorder("<"), count=n, offset=start)


class Tensor:
    def __init__(self, index, shape, dtype, data, name, scale, zero_point, quantized_dimension):
        self.index, self.shape, self.dtype, self.data, self.name = index, shape, dtype, data, name
        self.scale, self.zero_point, self.quantized_dimension = scale, zero_point, quantized_dimension

    def real(self):
        """The constant's real values: scale * (q - zero_point), per channel when quantized so."""
        if self.data is None:
            raise FormatError("tensor %d (%s) has no data" % (self.index, self.name))
        q = self.data.astype(np.float64)
        if self.scale is None or len(self.scale) == 0:
            return q.astype(np.float32)
        shape = [1] * q.ndim
        if len(self.scale) > 1:
            shape[self.quantized_dimension] = len(self.scale)
        scale = np.asarray(self.scale, np.float64).reshape(shape)
        zp = np.asarray(self.zero_point, np.float64).reshape(shape) if len(self.zero_point) else 0.0
        return ((q - zp) * scale).astype(np.float32)


class Operator:
    def __init__(self, name, inputs, outputs, options):
        self.name, self.inputs, self.outputs, self.options = name, inputs, outputs, options


class Model:
    def __init__(self, tensors, operators, inputs, outputs):
        self.tensors, self.operators, self.inputs, self.outputs = tensors, operators, inputs, outputs


def _options(name, t):
    """The builtin options of the operators capt converts."""
    if t is None:
        return {}
    b, i32 = N.Uint8Flags, N.Int32Flags
    if name == "CONV_2D":
        return {"padding": PADDING[t.scalar(0, b)], "stride": (t.scalar(2, i32), t.scalar(1, i32)),
                "activation": ACTIVATION[t.scalar(3, b)], "dilation": (t.scalar(5, i32, 1), t.scalar(4, i32, 1))}
    if name == "DEPTHWISE_CONV_2D":
        return {"padding": PADDING[t.scalar(0, b)], "stride": (t.scalar(2, i32), t.scalar(1, i32)),
                "depth_multiplier": t.scalar(3, i32), "activation": ACTIVATION[t.scalar(4, b)],
                "dilation": (t.scalar(6, i32, 1), t.scalar(5, i32, 1))}
    if name in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        return {"padding": PADDING[t.scalar(0, b)], "stride": (t.scalar(2, i32), t.scalar(1, i32)),
                "filter": (t.scalar(4, i32), t.scalar(3, i32)), "activation": ACTIVATION[t.scalar(5, b)]}
    if name == "ADD":
        return {"activation": ACTIVATION[t.scalar(0, b)]}
    if name == "SOFTMAX":
        return {"beta": t.scalar(0, N.Float32Flags, 1.0)}
    if name == "RESHAPE":
        return {"new_shape": [int(v) for v in t.numbers(0, np.int32)]}
    return {}


def read_tflite(path):
    buf = bytearray(open(path, "rb").read())
    if len(buf) < 8 or bytes(buf[4:8]) != b"TFL3":
        raise FormatError("%s is not a TFLite flatbuffer (no TFL3 identifier)" % path)
    model = _Table(buf, flatbuffers.encode.Get(flatbuffers.packer.uoffset, buf, 0))
    codes = []
    for oc in model.tables(1):
        code = max(oc.scalar(0, N.Int8Flags), oc.scalar(3, N.Int32Flags))
        codes.append(OPS.get(code, "BUILTIN_%d" % code))
    buffers = [b.numbers(0, np.uint8) for b in model.tables(4)]
    subgraphs = model.tables(2)
    if len(subgraphs) != 1:
        raise FormatError("expected one subgraph, found %d" % len(subgraphs))
    sg = subgraphs[0]
    tensors = []
    for i, t in enumerate(sg.tables(0)):
        shape = tuple(int(v) for v in t.numbers(0, np.int32))
        ttype = t.scalar(1, N.Int8Flags)
        if ttype not in TENSOR_TYPES:
            raise FormatError("tensor %d has unsupported type %d" % (i, ttype))
        dtype = TENSOR_TYPES[ttype]
        raw = buffers[t.scalar(2, N.Uint32Flags)] if t.scalar(2, N.Uint32Flags) < len(buffers) else None
        data = None
        if raw is not None and len(raw):
            data = np.frombuffer(raw.tobytes(), dtype=np.dtype(dtype).newbyteorder("<")).reshape(shape)
        q = t.table(4)
        scale = zero_point = None
        qdim = 0
        if q is not None:
            scale = q.numbers(2, np.float32)
            zero_point = q.numbers(3, np.int64)
            qdim = q.scalar(6, N.Int32Flags)
        tensors.append(Tensor(i, shape, dtype, data, t.string(3), scale, zero_point, qdim))
    operators = []
    for op in sg.tables(3):
        name = codes[op.scalar(0, N.Uint32Flags)]
        operators.append(Operator(name, [int(v) for v in op.numbers(1, np.int32)],
                                  [int(v) for v in op.numbers(2, np.int32)], _options(name, op.table(4))))
    return Model(tensors, operators, [int(v) for v in sg.numbers(1, np.int32)],
                 [int(v) for v in sg.numbers(2, np.int32)])


if __name__ == "__main__":
    m = read_tflite(sys.argv[1])
    print("inputs", m.inputs, "outputs", m.outputs)
    for op in m.operators:
        print(op.name, op.inputs, "->", op.outputs, [m.tensors[i].shape for i in op.inputs], op.options)
