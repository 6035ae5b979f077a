#!/usr/bin/python3
"""Reader and writer of .capt v1 model files (docs/format.md), numpy only.

    w = CaptWriter()
    w.add_meta("general.architecture", "mobilenet_v2")      # str, int, float, or lists of them
    w.add_tensor("conv0.weight", array, dtype="f32")          # f32 | f16 | q8_0 | q4_0
    w.write("model.capt")

    f = read_capt("model.capt")     # -> CaptFile(version, alignment, meta: dict, tensors: dict)
    f.tensors["conv0.weight"].array()   # dequantized float32 ndarray

Quantization follows ggml (and core/kernels/ref/gemm_ref.c): blocks of 32 along the last
axis; q8_0 stores d = max|x|/127 as f16 and round(x/d) as int8; q4_0 stores d = m/-8 for
the value m of largest magnitude and min(15, int(x/d + 8.5)) as nibbles, values j and
j+16 of a block sharing byte j (low nibble first).
"""
import struct
import sys
import zlib

import numpy as np

MAGIC = b"CAPT"
VERSION = 2
CHECKSUM_AT = 12  # the header's u32 CRC-32 of the whole file, read with these 4 bytes as zeros
DEFAULT_ALIGNMENT = 32
META_INT, META_FLOAT, META_STRING, META_ARRAY = 1, 2, 3, 4
DTYPES = {"f32": 0, "f16": 1, "q8_0": 2, "q4_0": 3}
DTYPE_NAMES = {v: k for k, v in DTYPES.items()}
QK = 32
BLOCK_BYTES = {"q8_0": 34, "q4_0": 18}


class FormatError(ValueError):
    pass


# ---- quantization -------------------------------------------------------------------

def quantize_q8_0(x):
    """x: float array [..., K] (K % 32 == 0) -> uint8 bytes [..., K/32 * 34]."""
    x = np.asarray(x, dtype=np.float32)
    blocks = x.reshape(-1, QK)
    amax = np.abs(blocks).max(axis=1)
    d = (amax / np.float32(127)).astype(np.float32)
    inv = np.where(d != 0, np.float32(1) / np.where(d != 0, d, 1), 0).astype(np.float32)
    q = np.rint(blocks * inv[:, None]).astype(np.int8)  # rint: half to even, like lrintf
    out = np.empty((blocks.shape[0], 34), dtype=np.uint8)
    out[:, :2] = d.astype(np.float16).view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q.view(np.uint8)
    return out.reshape(x.shape[:-1] + (x.shape[-1] // QK * 34,))


def quantize_q8_0_integers(q, scale):
    """q8_0 blocks holding integer weights q exactly (TFLite per-tensor quantized weights
    are integers times one scale). Every block gets d = f16(scale) * 2^j with the
    smallest j that fits its integers in int8 (j = 0 for nearly all: then exact), so the
    stored values are q' * f16(scale) and the whole tensor is off by the single factor
    alpha = scale / f16(scale), which the caller applies to the layer's output.
    Returns (bytes [..., K/32 * 34], alpha)."""
    q = np.asarray(q, dtype=np.int64)
    blocks = q.reshape(-1, QK)
    d16 = np.float16(scale)
    if not np.isfinite(d16) or d16 == 0:
        raise ValueError("scale %g is not representable in f16" % scale)
    j = np.zeros(blocks.shape[0], dtype=np.int64)
    amax = np.abs(blocks).max(axis=1)
    while (amax > 127 * (1 << j)).any():
        j += amax > 127 * (1 << j)
    step = (1 << j)[:, None]
    k = np.where(blocks >= 0, (blocks + step // 2) // step, -((-blocks + step // 2) // step))
    out = np.empty((blocks.shape[0], 34), dtype=np.uint8)
    out[:, :2] = (d16 * (1 << j).astype(np.float16)).astype(np.float16).view(np.uint8).reshape(-1, 2)
    out[:, 2:] = np.clip(k, -127, 127).astype(np.int8).view(np.uint8)
    return out.reshape(q.shape[:-1] + (q.shape[-1] // QK * 34,)), float(scale) / float(d16)


def quantize_q4_0(x):
    """x: float array [..., K] (K % 32 == 0) -> uint8 bytes [..., K/32 * 18]."""
    x = np.asarray(x, dtype=np.float32)
    blocks = x.reshape(-1, QK)
    idx = np.abs(blocks).argmax(axis=1)  # first index of the largest magnitude, as the C loop
    m = blocks[np.arange(blocks.shape[0]), idx]
    d = (m / np.float32(-8)).astype(np.float32)
    inv = np.where(d != 0, np.float32(1) / np.where(d != 0, d, 1), 0).astype(np.float32)
    q = np.minimum(15, (blocks * inv[:, None] + np.float32(8.5)).astype(np.int32)).astype(np.uint8)
    out = np.empty((blocks.shape[0], 18), dtype=np.uint8)
    out[:, :2] = d.astype(np.float16).view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q[:, :16] | (q[:, 16:] << 4)
    return out.reshape(x.shape[:-1] + (x.shape[-1] // QK * 18,))


def dequantize(raw, dtype, shape):
    """Stored bytes -> float32 array of `shape`."""
    raw = np.frombuffer(raw, dtype=np.uint8)
    if dtype == "f32":
        return raw.view(np.float32).reshape(shape).copy()
    if dtype == "f16":
        return raw.view(np.float16).astype(np.float32).reshape(shape)
    blocks = raw.reshape(-1, BLOCK_BYTES[dtype])
    d = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    if dtype == "q8_0":
        q = blocks[:, 2:].view(np.int8).astype(np.float32)
    else:
        nib = blocks[:, 2:]
        q = np.concatenate([nib & 15, nib >> 4], axis=1).astype(np.float32) - 8
    return (q * d).reshape(shape)


def tensor_bytes(dtype, n_elements):
    if dtype == "f32":
        return 4 * n_elements
    if dtype == "f16":
        return 2 * n_elements
    return n_elements // QK * BLOCK_BYTES[dtype]


# ---- writing -------------------------------------------------------------------------

def _str(s):
    # surrogateescape: strings read from a file that were not UTF-8 (e.g. BPE token
    # bytes) are written back byte for byte.
    b = s.encode("utf-8", "surrogateescape") if isinstance(s, str) else bytes(s)
    return struct.pack("<I", len(b)) + b


def _meta_value(value):
    if isinstance(value, bool):
        raise TypeError("booleans are stored as ints: use 0 or 1")
    if isinstance(value, (int, np.integer)):
        return struct.pack("<Iq", META_INT, int(value))
    if isinstance(value, (float, np.floating)):
        return struct.pack("<Id", META_FLOAT, float(value))
    if isinstance(value, (str, bytes)):
        return struct.pack("<I", META_STRING) + _str(value)
    if isinstance(value, (list, tuple, np.ndarray)):
        items = list(value)
        if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in items):
            return struct.pack("<IIQ", META_ARRAY, META_INT, len(items)) + np.asarray(items, "<i8").tobytes()
        if all(isinstance(v, (int, float, np.integer, np.floating)) for v in items):
            return struct.pack("<IIQ", META_ARRAY, META_FLOAT, len(items)) + np.asarray(items, "<f8").tobytes()
        if all(isinstance(v, (str, bytes)) for v in items):
            return struct.pack("<IIQ", META_ARRAY, META_STRING, len(items)) + b"".join(_str(v) for v in items)
        raise TypeError("array elements must be all ints, all numbers or all strings")
    raise TypeError("unsupported metadata value %r" % (value,))


class CaptWriter:
    def __init__(self, alignment=DEFAULT_ALIGNMENT):
        assert alignment >= 8 and alignment & (alignment - 1) == 0
        self.alignment = alignment
        self.meta = []     # (key, encoded value)
        self.tensors = []  # (name, dtype, shape, raw bytes)

    def add_meta(self, key, value):
        if any(k == key for k, _ in self.meta):
            raise ValueError("duplicate metadata key %s" % key)
        self.meta.append((key, _meta_value(value)))

    def add_tensor(self, name, array, dtype="f32"):
        """Stores a float array in dtype (quantized types need a last axis of 32k)."""
        if any(n == name for n, *_ in self.tensors):
            raise ValueError("duplicate tensor %s" % name)
        array = np.asarray(array, dtype=np.float32)
        if not 1 <= array.ndim <= 4:
            raise ValueError("%s: rank %d is not 1..4" % (name, array.ndim))
        if dtype == "f32":
            raw = array.astype("<f4").tobytes()
        elif dtype == "f16":
            raw = array.astype("<f2").tobytes()
        elif dtype in ("q8_0", "q4_0"):
            if array.shape[-1] % QK:
                raise ValueError("%s: last axis %d is not a multiple of 32" % (name, array.shape[-1]))
            raw = (quantize_q8_0 if dtype == "q8_0" else quantize_q4_0)(array).tobytes()
        else:
            raise ValueError("unknown dtype %s" % dtype)
        self.tensors.append((name, dtype, array.shape, raw))

    def add_tensor_raw(self, name, raw, dtype, shape):
        """Stores already-encoded bytes (e.g. q8_0 blocks built by a converter)."""
        if any(n == name for n, *_ in self.tensors):
            raise ValueError("duplicate tensor %s" % name)
        if len(raw) != tensor_bytes(dtype, int(np.prod(shape))):
            raise ValueError("%s: %d bytes do not hold %s %s" % (name, len(raw), dtype, list(shape)))
        self.tensors.append((name, dtype, tuple(shape), bytes(raw)))

    def to_bytes(self):
        header = MAGIC + struct.pack("<IIIQQ", VERSION, self.alignment, 0, len(self.meta), len(self.tensors))
        body = [header]
        for key, value in self.meta:
            body.append(_str(key) + value)
        offset = 0
        data = []
        for i, (name, dtype, shape, raw) in enumerate(self.tensors):
            entry = _str(name) + struct.pack("<II", DTYPES[dtype], len(shape))
            entry += struct.pack("<%dQ" % len(shape), *shape) + struct.pack("<Q", offset)
            body.append(entry)
            # Padding between tensors only: the file ends where the last tensor does.
            pad = -len(raw) % self.alignment if i + 1 < len(self.tensors) else 0
            data.append(raw + b"\0" * pad)
            offset += len(raw) + pad
        head = b"".join(body)
        head += b"\0" * (-len(head) % self.alignment)
        out = bytearray(head + b"".join(data))
        out[CHECKSUM_AT:CHECKSUM_AT + 4] = struct.pack("<I", zlib.crc32(out))
        return bytes(out)

    def write(self, path):
        with open(path, "wb") as f:
            f.write(self.to_bytes())


# ---- reading -------------------------------------------------------------------------

class CaptTensor:
    def __init__(self, name, dtype, shape, raw):
        self.name, self.dtype, self.shape, self.raw = name, dtype, tuple(shape), raw

    def array(self):
        return dequantize(self.raw, self.dtype, self.shape)


class CaptFile:
    def __init__(self, version, alignment, meta, tensors):
        self.version, self.alignment, self.meta, self.tensors = version, alignment, meta, tensors


class _Cursor:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, n, what):
        if n < 0 or self.pos + n > len(self.data):
            raise FormatError("truncated file: %s at byte %d" % (what, self.pos))
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def unpack(self, fmt, what):
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))

    def string(self, what):
        (n,) = self.unpack("I", what)
        return self.take(n, what).decode("utf-8", "surrogateescape")


def read_capt(source):
    """Parses a .capt file (path or bytes) with the same checks as the C reader."""
    data = source if isinstance(source, (bytes, bytearray, memoryview)) else open(source, "rb").read()
    data = bytes(data)
    c = _Cursor(data)
    if c.take(4, "magic") != MAGIC:
        raise FormatError("not a .capt file: bad magic")
    version, alignment, checksum, n_meta, n_tensors = c.unpack("IIIQQ", "header")
    if version != VERSION:
        raise FormatError("file version %d is not supported" % version)
    if alignment < 8 or alignment > 65536 or alignment & (alignment - 1):
        raise FormatError("bad alignment")
    meta = {}
    for _ in range(n_meta):
        key = c.string("metadata key")
        (t,) = c.unpack("I", "metadata type")
        if t == META_INT:
            meta[key] = c.unpack("q", "int")[0]
        elif t == META_FLOAT:
            meta[key] = c.unpack("d", "float")[0]
        elif t == META_STRING:
            meta[key] = c.string("string")
        elif t == META_ARRAY:
            et, count = c.unpack("IQ", "array header")
            if et == META_INT:
                meta[key] = [int(v) for v in np.frombuffer(c.take(8 * count, "ints"), "<i8")]
            elif et == META_FLOAT:
                meta[key] = [float(v) for v in np.frombuffer(c.take(8 * count, "floats"), "<f8")]
            elif et == META_STRING:
                meta[key] = [c.string("array string") for _ in range(count)]
            else:
                raise FormatError("unknown array element type %d" % et)
        else:
            raise FormatError("unknown metadata type %d" % t)
    entries = []
    for _ in range(n_tensors):
        name = c.string("tensor name")
        dtype, rank = c.unpack("II", "tensor header")
        if dtype not in DTYPE_NAMES or not 1 <= rank <= 4:
            raise FormatError("tensor %s: bad dtype or rank" % name)
        shape = c.unpack("%dQ" % rank, "dims")
        (offset,) = c.unpack("Q", "offset")
        entries.append((name, DTYPE_NAMES[dtype], shape, offset))
    data_start = -(-c.pos // alignment) * alignment
    tensors = {}
    for name, dtype, shape, offset in entries:
        n = int(np.prod(shape))
        nbytes = tensor_bytes(dtype, n)
        if data_start + offset + nbytes > len(data):
            raise FormatError("tensor %s runs past the end of the file" % name)
        tensors[name] = CaptTensor(name, dtype, shape, data[data_start + offset:data_start + offset + nbytes])
    crc = zlib.crc32(data[CHECKSUM_AT + 4:], zlib.crc32(bytes(4), zlib.crc32(data[:CHECKSUM_AT])))
    if crc != checksum:
        raise FormatError("the file is damaged: its CRC-32 is %08x, the header says %08x" % (crc, checksum))
    return CaptFile(version, alignment, meta, tensors)


if __name__ == "__main__":
    f = read_capt(sys.argv[1])
    print("capt v%d, alignment %d" % (f.version, f.alignment))
    for k, v in f.meta.items():
        print("  %s = %s" % (k, (repr(v)[:100])))
    for t in f.tensors.values():
        print("  %s %s %s" % (t.name, t.dtype, list(t.shape)))
