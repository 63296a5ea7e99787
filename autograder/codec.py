"""Plain-data codec for answers travelling from the sandbox to the grader.

The sandbox turns a student's value into plain data with :func:`encode` and
:func:`dump_plain` (``torch.save``); the grader reads it with :func:`load_plain`
(``torch.load(weights_only=True)``), which refuses every class that is not plain
data, so no foreign code runs on the grader's side when it reads an answer.
"""

from __future__ import annotations

import builtins
import io

import numpy as np
import torch

from autograder.wire import WireError

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
