"""The wire between the grader and the sandbox that runs a student's code.

Messages are length-prefixed byte strings on two pipes.

* grader -> sandbox: :mod:`pickle` (the sandbox trusts the grader).  Objects that
  live in the sandbox travel back as references (pickle's persistent ids).
* sandbox -> grader: ``torch.save`` of *plain data only* (None, bool, int, float,
  str, bytes, lists, tuples, dicts and plain tensors), read with
  ``torch.load(weights_only=True)``.  A student's code can therefore never make
  the grader unpickle a class of its choosing: no code runs on the grader's side
  when it reads an answer.
"""

from __future__ import annotations

import builtins
import io
import os
import pickle
import select
import struct
import time

import numpy as np
import torch

MAX_MESSAGE = 512 * 2**20  # bytes
HEADER = struct.Struct("!Q")

# Tags inside encoded data (tuples whose first item is TAG).
TAG = "__tml_wire__"

# Captured at import, before any student code runs: a notebook that rebinds
# builtins.isinstance (say) must not change how its own answers are sent.
_isinstance, _type, _bool, _int, _float, _str = (
    builtins.isinstance,
    builtins.type,
    builtins.bool,
    builtins.int,
    builtins.float,
    builtins.str,
)
_list, _tuple, _dict, _set, _frozenset = (
    builtins.list,
    builtins.tuple,
    builtins.dict,
    builtins.set,
    builtins.frozenset,
)
_Tensor, _ndarray, _generic = torch.Tensor, np.ndarray, np.generic
_make_subclass = torch.Tensor._make_subclass
_from_numpy, _ascontiguous = torch.from_numpy, np.ascontiguousarray


class WireError(RuntimeError):
    """The other side broke the protocol, went silent or died."""


class WireTimeout(WireError):
    """No answer before the deadline."""


def send_bytes(fd: int, payload: bytes) -> None:
    data = HEADER.pack(len(payload)) + payload
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    chunks, got = [], 0
    while got < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise WireTimeout("no answer before the time limit")
            ready, _, _ = select.select([fd], [], [], min(left, 1.0))
            if not ready:
                continue
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            raise WireError("the other side closed the connection")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def recv_bytes(fd: int, deadline: float | None = None) -> bytes:
    (n,) = HEADER.unpack(_read_exact(fd, HEADER.size, deadline))
    if n > MAX_MESSAGE:
        raise WireError(f"message of {n} bytes is larger than the {MAX_MESSAGE} limit")
    return _read_exact(fd, n, deadline)


# ---------------------------------------------------------------- sandbox side
def encode(obj, register, depth: int = 0):
    """Turn a student's value into plain data (sandbox side).

    ``register(obj)`` stores an object that cannot travel as data (a function,
    a model, ...) and returns its integer id.
    """
    if depth > 30:
        raise ValueError("answer nested more than 30 levels deep")
    kind = _type(obj)
    if obj is None or kind in (_bool, _int, _float, _str, bytes):
        return obj
    if _isinstance(obj, _Tensor):
        t = _Tensor.detach(obj).to("cpu")
        if t.layout != torch.strided:
            t = t.to_dense()
        return _make_subclass(_Tensor, _Tensor.clone(t), False)
    if _isinstance(obj, _ndarray):
        if obj.dtype.kind in "biufc":
            return (TAG, "ndarray", _from_numpy(_ascontiguous(obj).copy()))
        return (TAG, "list", [encode(x, register, depth + 1) for x in obj.tolist()])
    if _isinstance(obj, _generic):
        return encode(obj.item(), register, depth + 1)
    if _isinstance(obj, _bool):
        return _bool(obj)
    if _isinstance(obj, _int):
        return _int.__int__(obj)
    if _isinstance(obj, _float):
        return _float.__float__(obj)
    if _isinstance(obj, _str):
        return _str.__str__(obj)
    if kind in (_list, _tuple):
        items = [encode(x, register, depth + 1) for x in obj]
        return items if kind is _list else (TAG, "tuple", items)
    if kind is _dict:
        return (
            TAG,
            "dict",
            [
                (encode(k, register, depth + 1), encode(v, register, depth + 1))
                for k, v in _dict.items(obj)
            ],
        )
    if kind in (_set, _frozenset):
        return (TAG, "set", [encode(x, register, depth + 1) for x in obj])
    if kind.__name__ == "module" and hasattr(obj, "__name__"):
        return (TAG, "module", _str(obj.__name__))
    return (TAG, "ref", register(obj), _describe(obj))


def _describe(obj) -> str:
    kind = type(obj)
    return f"{kind.__module__}.{kind.__qualname__}"[:200]


def dump_plain(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


# ---------------------------------------------------------------- grader side
def load_plain(payload: bytes):
    """Read data written by :func:`dump_plain` without running any foreign code."""
    try:
        return torch.load(io.BytesIO(payload), weights_only=True, map_location="cpu")
    except Exception as exc:  # noqa: BLE001 - anything malformed is a protocol error
        raise WireError(
            f"the notebook's process sent data that is not plain data: {exc}"
        )


def decode(data, make_ref, import_module):
    """Inverse of :func:`encode` on the grader side."""
    if isinstance(data, list):
        return [decode(x, make_ref, import_module) for x in data]
    if isinstance(data, tuple) and len(data) >= 3 and data[0] == TAG:
        kind = data[1]
        if kind == "tuple":
            return tuple(decode(x, make_ref, import_module) for x in data[2])
        if kind == "list":
            return [decode(x, make_ref, import_module) for x in data[2]]
        if kind == "dict":
            return {
                decode(k, make_ref, import_module): decode(v, make_ref, import_module)
                for k, v in data[2]
            }
        if kind == "set":
            return {decode(x, make_ref, import_module) for x in data[2]}
        if kind == "ndarray":
            return data[2].numpy()
        if kind == "module":
            return import_module(data[2])
        if kind == "ref":
            return make_ref(int(data[2]), str(data[3]) if len(data) > 3 else "object")
        raise WireError(f"unknown tag {kind!r}")
    return data


class RefPickler(pickle.Pickler):
    """Pickles call arguments; sandbox objects travel as their ids."""

    def __init__(self, file, ref_type):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._ref_type = ref_type

    def persistent_id(self, obj):
        if isinstance(obj, self._ref_type):
            return ("ref", object.__getattribute__(obj, "_rid"))
        return None


class RefUnpickler(pickle.Unpickler):
    """Sandbox side: resolves ids back to the sandbox's own objects."""

    def __init__(self, file, objects):
        super().__init__(file)
        self._objects = objects

    def persistent_load(self, pid):
        kind, rid = pid
        if kind != "ref" or rid not in self._objects:
            raise pickle.UnpicklingError(f"unknown reference {pid!r}")
        return self._objects[rid]
