#!/usr/bin/python3
"""Reads and writes Hugging Face .safetensors files with numpy only (the format is an
8-byte little-endian header length, a JSON header of {name: {dtype, shape,
data_offsets}} and the raw little-endian tensor bytes).

    tensors = read_safetensors("model.safetensors")   # {name: np.ndarray}, memory-mapped
    write_safetensors("out.safetensors", {"w": array})
"""
import json
import struct

import numpy as np

_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
           "U8": "u1", "BOOL": "?"}
_MAX_HEADER = 100 * 1024 * 1024


class SafetensorsError(ValueError):
    pass


def _bf16_to_f32(raw):
    return (raw.astype(np.uint32) << 16).view(np.float32)


def read_safetensors(path):
    """{name: array}: arrays view a read-only memory map of the file (BF16 is widened to
    float32). Checks the header against the file size."""
    data = np.memmap(path, dtype=np.uint8, mode="r")
    if len(data) < 8:
        raise SafetensorsError("%s: too short for a safetensors file" % path)
    (n,) = struct.unpack("<Q", bytes(data[:8]))
    if n > min(_MAX_HEADER, len(data) - 8):
        raise SafetensorsError("%s: header length %d does not fit the file" % (path, n))
    try:
        header = json.loads(bytes(data[8:8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise SafetensorsError("%s: the header is not JSON: %s" % (path, e))
    if not isinstance(header, dict):
        raise SafetensorsError("%s: the header is not a JSON object" % path)
    body = data[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (begin, end) = info["dtype"], [int(d) for d in info["shape"]], info["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise SafetensorsError("%s: tensor %s has a malformed entry" % (path, name))
        if dtype != "BF16" and dtype not in _DTYPES:
            raise SafetensorsError("%s: tensor %s has unsupported dtype %s" % (path, name, dtype))
        item = 2 if dtype == "BF16" else np.dtype(_DTYPES[dtype]).itemsize
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if any(d < 0 for d in shape) or not 0 <= begin <= end <= len(body) or end - begin != count * item:
            raise SafetensorsError("%s: tensor %s: offsets %s do not hold %s %s" % (path, name, [begin, end], dtype, shape))
        raw = body[begin:end]
        if dtype == "BF16":
            out[name] = _bf16_to_f32(raw.view("<u2")).reshape(shape)
        else:
            out[name] = raw.view(_DTYPES[dtype]).reshape(shape)
    return out


def write_safetensors(path, tensors, metadata=None):
    """Writes {name: array} (float16/float32/int64... numpy arrays) in name order."""
    names = {np.dtype(v): k for k, v in _DTYPES.items()}
    header, offset, blobs = {}, 0, []
    for name in sorted(tensors):
        a = np.array(tensors[name], order="C")  # (ascontiguousarray would make scalars 1-d)
        a = a.astype(a.dtype.newbyteorder("<"))
        raw = a.tobytes()
        header[name] = {"dtype": names[np.dtype(a.dtype.str)], "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = metadata
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)) + head)
        for raw in blobs:
            f.write(raw)
