"""Reads and writes the safetensors format without the `safetensors` package (not installable here).

Layout: an unsigned 64-bit little-endian N, then N bytes of UTF-8 JSON {name: {"dtype", "shape", "data_offsets":
[begin, end]}, optional "__metadata__": {str: str}}, then the raw little-endian tensor bytes; offsets count from the
end of the header. Only what checkpoints need is supported: F32, F64, F16, BF16, I64, I32, I16, I8, U8, BOOL.
"""
import json
import os
import struct
import sys
import tempfile

import torch

_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool,
}
_NAMES = {dtype: name for name, dtype in _DTYPES.items()}
_MAX_HEADER = 100 * 1024 * 1024


class SafetensorsError(ValueError):
    """A file that is not valid safetensors, or a tensor that cannot be stored; the message names the file and tensor."""


def _le_bytes(tensor):
    """The tensor's bytes, contiguous, on the CPU, little-endian."""
    t = tensor.detach().to("cpu").contiguous()
    if t.dtype == torch.bfloat16:                      # numpy has no bfloat16: reinterpret as int16
        t = t.view(torch.int16)
    data = t.numpy().tobytes() if t.numel() else b""
    if sys.byteorder != "little" and t.element_size() > 1:
        raise SafetensorsError("big-endian hosts are not supported")
    return data


def _default_mode():
    """The permissions a plain open() would give a new file (mkstemp's are 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def save_file(tensors, path, metadata=None):
    """Writes {name: tensor} to `path` atomically (a temporary file in the same folder, fsync, then rename)."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name in sorted(tensors):
        tensor = tensors[name]
        if not isinstance(tensor, torch.Tensor):
            raise SafetensorsError(f"{path}: '{name}' is a {type(tensor).__name__}, not a tensor")
        if tensor.dtype not in _NAMES:
            raise SafetensorsError(f"{path}: '{name}' has dtype {tensor.dtype}, which safetensors here does not store")
        data = _le_bytes(tensor)
        header[name] = {"dtype": _NAMES[tensor.dtype], "shape": list(tensor.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)                    # pad so the data starts 8-byte aligned
    folder = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".partial", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(struct.pack("<Q", len(text)))
            f.write(text)
            for blob in blobs:
                f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temporary, _default_mode())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def read_header(path):
    """(header dict without __metadata__, metadata dict, data start offset, file size); validates the layout."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) < 8:
            raise SafetensorsError(f"{path}: {size} bytes, too short for a safetensors header")
        (n,) = struct.unpack("<Q", raw)
        if n > _MAX_HEADER or 8 + n > size:
            raise SafetensorsError(f"{path}: header length {n} does not fit in a file of {size} bytes")
        try:
            header = json.loads(f.read(n).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise SafetensorsError(f"{path}: the header is not UTF-8 JSON ({e})") from e
    if not isinstance(header, dict):
        raise SafetensorsError(f"{path}: the header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    data_size = size - 8 - n
    for name, entry in header.items():
        try:
            dtype, shape, (begin, end) = entry["dtype"], entry["shape"], entry["data_offsets"]
        except (KeyError, TypeError, ValueError) as e:
            raise SafetensorsError(f"{path}: tensor '{name}' lacks dtype, shape or data_offsets") from e
        if dtype not in _DTYPES:
            raise SafetensorsError(f"{path}: tensor '{name}' has unknown dtype '{dtype}'")
        if not all(isinstance(d, int) and d >= 0 for d in shape):
            raise SafetensorsError(f"{path}: tensor '{name}' has an invalid shape {shape}")
        count = 1
        for d in shape:
            count *= d
        expected = count * torch.empty(0, dtype=_DTYPES[dtype]).element_size()
        if not (0 <= begin <= end <= data_size) or end - begin != expected:
            raise SafetensorsError(
                f"{path}: tensor '{name}' ({dtype} {shape}) has data_offsets [{begin}, {end}]; expected {expected} bytes "
                f"within the {data_size} data bytes")
    return header, metadata, 8 + n, size


def load_file(path):
    """{name: tensor} (CPU, writable copies) from a safetensors file."""
    header, _, start, _ = read_header(path)
    out = {}
    with open(path, "rb") as f:
        for name, entry in header.items():
            begin, end = entry["data_offsets"]
            f.seek(start + begin)
            data = bytearray(f.read(end - begin))
            dtype = _DTYPES[entry["dtype"]]
            storage = torch.int16 if dtype == torch.bfloat16 else dtype
            if end == begin:
                t = torch.empty(entry["shape"], dtype=dtype)
            else:
                t = torch.frombuffer(data, dtype=storage).reshape(entry["shape"]).clone()
                if dtype == torch.bfloat16:
                    t = t.view(torch.bfloat16)
            out[name] = t
    return out


def load_metadata(path):
    """The optional __metadata__ string map of a safetensors file."""
    return read_header(path)[1]
