"""Tensor bundle: the file format the C# parity tests and this reference exchange.

Layout (little-endian):
    b"MHTB" | u32 version (1) | u32 count
    count x ( u32 name_len | name (utf-8) | u8 dtype (0 float32, 1 int64, 2 float64) | u32 ndim | i64 dims[ndim] | data )
Data is C-order. Names are free text; the runner uses "<case>/<tensor>".
"""
import struct

import numpy as np

_MAGIC = b"MHTB"
_DTYPES = {0: np.float32, 1: np.int64, 2: np.float64}
_CODES = {np.dtype(np.float32): 0, np.dtype(np.int64): 1, np.dtype(np.float64): 2}


def read_bundle(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != _MAGIC:
        raise ValueError(f"{path}: not a tensor bundle")
    version, count = struct.unpack_from("<II", data, 4)
    if version != 1:
        raise ValueError(f"{path}: bundle version {version}, expected 1")
    offset, tensors = 12, {}
    for _ in range(count):
        (name_len,) = struct.unpack_from("<I", data, offset)
        offset += 4
        name = data[offset:offset + name_len].decode("utf-8")
        offset += name_len
        dtype_code, ndim = struct.unpack_from("<BI", data, offset)
        offset += 5
        dims = struct.unpack_from(f"<{ndim}q", data, offset)
        offset += 8 * ndim
        dtype = np.dtype(_DTYPES[dtype_code])
        size = int(np.prod(dims)) if ndim else 1
        tensors[name] = np.frombuffer(data, dtype=dtype, count=size, offset=offset).reshape(dims).copy()
        offset += size * dtype.itemsize
    return tensors


def write_bundle(path, tensors):
    parts = [_MAGIC, struct.pack("<II", 1, len(tensors))]
    for name, array in tensors.items():
        array = np.asarray(array)
        if not array.flags.c_contiguous:
            array = array.copy(order="C")
        if array.dtype not in _CODES:
            array = array.astype(np.float32)
        encoded = name.encode("utf-8")
        parts.append(struct.pack("<I", len(encoded)) + encoded)
        parts.append(struct.pack("<BI", _CODES[array.dtype], array.ndim))
        parts.append(struct.pack(f"<{array.ndim}q", *array.shape))
        parts.append(array.tobytes())
    with open(path, "wb") as f:
        f.write(b"".join(parts))
