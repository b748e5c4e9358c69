"""safetensors without the safetensors package.

Layout: an 8-byte little-endian header length n, n bytes of JSON header
``{name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, "__metadata__": {str: str}}``
(padded with spaces to a multiple of 8, as gatescope and the reference writer do), then the tensors'
raw little-endian bytes, offsets relative to the end of the header.
"""
import ctypes
import json
import os
import sys
import tempfile

import torch

_CODE_OF_DTYPE = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL",
}
_DTYPE_OF_CODE = {code: dtype for dtype, code in _CODE_OF_DTYPE.items()}

if sys.byteorder != "little":  # pragma: no cover - every platform torch ships wheels for is little-endian
    raise ImportError("gatescope writes safetensors from memory and needs a little-endian machine")

# mkstemp creates files readable by the owner only; a snapshot should get the permissions open() gives.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def _host_bytes(t):
    """(keep-alive tensor, memoryview of its bytes) for a tensor on any device; copies only when needed."""
    t = t.detach()
    if t.device.type != "cpu":
        t = t.to("cpu")
    t = t.contiguous()
    n = t.numel() * t.element_size()
    if n == 0:
        return t, memoryview(b"")
    return t, memoryview((ctypes.c_ubyte * n).from_address(t.data_ptr()))


def encode(tensors, metadata=None):
    """The file as a list of byte chunks (header first), tensors in the given order."""
    header = {}
    chunks = []
    offset = 0
    for name, t in tensors.items():
        if not isinstance(name, str):
            raise TypeError(f"tensor names must be strings, got {name!r}")
        code = _CODE_OF_DTYPE.get(t.dtype)
        if code is None:
            raise TypeError(f"{name}: dtype {t.dtype} has no safetensors code")
        keep, raw = _host_bytes(t)
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        chunks.append((keep, raw))
    if metadata:
        bad = [k for k, v in metadata.items() if not isinstance(k, str) or not isinstance(v, str)]
        if bad:
            raise TypeError(f"safetensors metadata keys and values must be strings: {bad}")
        header["__metadata__"] = dict(metadata)
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * ((8 - len(head) % 8) % 8)
    return [len(head).to_bytes(8, "little"), head] + [raw for _, raw in chunks], chunks


def write_atomic(path, tensors, metadata=None):
    """Writes a safetensors file so that no reader ever sees part of it.

    The bytes go to a hidden temporary file in the same directory (``.<name>.<random>.tmp``), which
    is flushed and fsync'ed, then renamed over ``path`` with os.replace (atomic on POSIX and
    Windows); the directory is fsync'ed too where the platform allows it.
    """
    parts, keep = encode(tensors, metadata)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as f:
            for p in parts:
                f.write(p)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    finally:
        del keep
    _fsync_dir(directory)
    return path


def _fsync_dir(directory):
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load(path):
    """(tensors, metadata) of a safetensors file, tensors as CPU torch tensors in file order."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: too short to be a safetensors file")
    n = int.from_bytes(data[:8], "little")
    if n > len(data) - 8:
        raise ValueError(f"{path}: header length {n} exceeds the file size")
    header = json.loads(data[8:8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", {}) or {}
    start = 8 + n
    tensors = {}
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        dtype = _DTYPE_OF_CODE.get(info["dtype"])
        if dtype is None:
            raise ValueError(f"{path}: tensor {name} has unsupported dtype {info['dtype']}")
        begin, end = info["data_offsets"]
        shape = info["shape"]
        numel = 1
        for s in shape:
            numel *= s
        if end - begin != numel * torch.empty((), dtype=dtype).element_size() or start + end > len(data):
            raise ValueError(f"{path}: tensor {name} has a bad byte range")
        if numel == 0:
            tensors[name] = torch.empty(shape, dtype=dtype)
        else:
            tensors[name] = torch.frombuffer(bytearray(data[start + begin:start + end]), dtype=dtype).reshape(shape)
    return tensors, metadata
