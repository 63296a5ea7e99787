"""Plain-data codec for answers travelling from the sandbox to the grader.

The sandbox turns a student's value into plain data with :func:`encode` and
:func:`dump_plain` (``torch.save``); the grader reads it with :func:`load_plain`
(``torch.load(weights_only=True)``), which refuses every class that is not plain
data, so no foreign code runs on the grader's side when it reads an answer.
"""

from __future__ import annotations

import builtins
import io
import sys
import types

import numpy as np
import torch

from autograder.wire import WireError

# Bounds on one answer, checked in the sandbox *before* anything is copied, and
# again in the grader on what arrives (the student's code shares the sandbox's
# process, so the grader trusts no byte of it).
MAX_BYTES = 64 * 2**20  # tensor and array payload, strings and bytes
MAX_ITEMS = 1_000_000  # containers' items
MAX_DEPTH = 30

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
_len, _ModuleType = builtins.len, types.ModuleType
_make_subclass = torch.Tensor._make_subclass
_from_numpy, _ascontiguous = torch.from_numpy, np.ascontiguousarray


# ---------------------------------------------------------------- sandbox side
class TooLarge(ValueError):
    """An answer over the size bounds: the test gets this plain reason."""


class Budget:
    """What one answer may still spend; raises :class:`TooLarge` past it."""

    def __init__(self, max_bytes: int = MAX_BYTES, max_items: int = MAX_ITEMS):
        self.bytes, self.items = max_bytes, max_items

    def spend(self, nbytes: int = 0, items: int = 1) -> None:
        self.bytes -= nbytes
        self.items -= items
        if self.bytes < 0:
            raise TooLarge(
                f"the answer is larger than the grader accepts ({MAX_BYTES >> 20} MB)"
            )
        if self.items < 0:
            raise TooLarge(
                f"the answer holds more than {MAX_ITEMS} items; the grader stops there"
            )


def encode(obj, register, budget: Budget | None = None, depth: int = 0):
    """Turn a student's value into plain data (sandbox side).

    ``register(obj)`` stores an object that cannot travel as data (a function,
    a model, ...) and returns its integer id.  Raises :class:`TooLarge` for an
    answer over the bounds, before copying it.
    """
    budget = budget if budget is not None else Budget()
    if depth > MAX_DEPTH:
        raise TooLarge(f"the answer is nested more than {MAX_DEPTH} levels deep")
    budget.spend()
    kind = _type(obj)
    if obj is None or kind in (_bool, _int, _float):
        return obj
    if kind in (_str, bytes):
        budget.spend(_len(obj))
        return obj
    if _isinstance(obj, _Tensor):
        budget.spend(_Tensor.numel(obj) * _Tensor.element_size(obj))
        return _plain_tensor(obj)
    if _isinstance(obj, _ndarray):
        if obj.dtype.kind in "biufc":
            budget.spend(obj.nbytes)
            return (TAG, "ndarray", _from_numpy(_ascontiguous(obj).copy()))
        budget.spend(0, obj.size)
        return (
            TAG,
            "list",
            [encode(x, register, budget, depth + 1) for x in obj.tolist()],
        )
    if _isinstance(obj, _generic):
        return encode(obj.item(), register, budget, depth + 1)
    if _isinstance(obj, _bool):
        return _bool(obj)
    if _isinstance(obj, _int):
        return _int.__int__(obj)
    if _isinstance(obj, _float):
        return _float.__float__(obj)
    if _isinstance(obj, _str):
        budget.spend(_len(obj))
        return _str.__str__(obj)
    if kind in (_list, _tuple):
        budget.spend(0, _len(obj))
        items = [encode(x, register, budget, depth + 1) for x in obj]
        return items if kind is _list else (TAG, "tuple", items)
    if kind is _dict:
        budget.spend(0, _len(obj))
        pairs = [
            (
                encode(k, register, budget, depth + 1),
                encode(v, register, budget, depth + 1),
            )
            for k, v in _dict.items(obj)
        ]
        return (TAG, "dict", pairs)
    if kind in (_set, _frozenset):
        budget.spend(0, _len(obj))
        return (TAG, "set", [encode(x, register, budget, depth + 1) for x in obj])
    if kind is _ModuleType:
        return (TAG, "module", _str(getattr(obj, "__name__", "?"))[:200], register(obj))
    return (TAG, "ref", register(obj), _describe(obj))


def _plain_tensor(t):
    t = _Tensor.detach(t).to("cpu")
    if t.layout != torch.strided:
        t = t.to_dense()
    return _make_subclass(_Tensor, _Tensor.clone(t), False)


def snapshot(obj, budget: Budget, depth: int = 0):
    """The state a call left an argument in (tensors, arrays, modules, and the
    containers that hold them), so that the grader's copy can be updated as an
    in-process call would have left it.  ``None`` for anything else."""
    if depth > 3:
        return None
    if _isinstance(obj, _Tensor):
        grad = obj.grad
        budget.spend(obj.numel() * obj.element_size() * (1 if grad is None else 2))
        return (
            TAG,
            "tensor_state",
            _plain_tensor(obj),
            None if grad is None else _plain_tensor(grad),
            _bool(obj.requires_grad),
        )
    if _isinstance(obj, _ndarray) and obj.dtype.kind in "biufc":
        budget.spend(obj.nbytes)
        return (TAG, "ndarray_state", _from_numpy(_ascontiguous(obj).copy()))
    if _isinstance(obj, torch.nn.Module):
        state = []
        for key, value in obj.state_dict().items():
            budget.spend(value.numel() * value.element_size())
            state.append((key, (TAG, "tensor_state", _plain_tensor(value), None)))
        params = []
        for name, p in obj.named_parameters():
            grad = None
            if p.grad is not None:
                budget.spend(p.grad.numel() * p.grad.element_size())
                grad = _plain_tensor(p.grad)
            params.append((name, _bool(p.requires_grad), grad))
        modes = [_bool(m.training) for m in obj.modules()]
        return (TAG, "module_state", state, params, modes)
    if _type(obj) in (_list, _tuple):
        return (TAG, "seq_state", [snapshot(x, budget, depth + 1) for x in obj])
    if _type(obj) is _dict:
        return (
            TAG,
            "dict_state",
            [
                (k, snapshot(v, budget, depth + 1))
                for k, v in _dict.items(obj)
                if _type(k) in (_str, _int)
            ],
        )
    return None


def _describe(obj) -> str:
    kind = type(obj)
    return f"{kind.__module__}.{kind.__qualname__}"[:200]


def dump_plain(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


# ---------------------------------------------------------------- grader side
# Modules a test may receive as themselves (``np``, ``torch``...): only ones the
# grader has already imported, from these packages.  Importing a module runs its
# code, so the grader never imports a name the notebook chose; anything else
# stays a proxy of the notebook's object.
TRUSTED_PACKAGES = ("torch", "numpy", "math", "random", "scipy", "sklearn", "tmlbook")


def trusted_module(name: str):
    """The grader's own module ``name`` if it is allowed, else ``None``."""
    if name.split(".")[0] not in TRUSTED_PACKAGES or "__main__" in name:
        return None
    return sys.modules.get(name)


def load_plain(payload: bytes):
    """Read data written by :func:`dump_plain` without running any foreign code."""
    try:
        data = torch.load(io.BytesIO(payload), weights_only=True, map_location="cpu")
    except Exception as exc:  # noqa: BLE001 - anything malformed is a protocol error
        raise WireError(
            f"the notebook's process sent data that is not plain data: {exc}"
        ) from None
    _check_bounds(data)
    return data


def _check_bounds(data) -> None:
    """Depth and item count of what arrived, without recursion."""
    stack, items = [(data, 0)], 0
    while stack:
        node, depth = stack.pop()
        items += 1
        if depth > MAX_DEPTH + 8 or items > 4 * MAX_ITEMS:
            raise WireError("the notebook's process sent an answer over the bounds")
        if isinstance(node, (list, tuple)):
            stack.extend((x, depth + 1) for x in node)
        elif isinstance(node, dict):
            stack.extend((x, depth + 1) for kv in node.items() for x in kv)


def decode(data, make_ref):
    """Inverse of :func:`encode` on the grader side."""
    if isinstance(data, list):
        return [decode(x, make_ref) for x in data]
    if isinstance(data, tuple) and len(data) >= 3 and data[0] == TAG:
        kind = data[1]
        if kind == "tuple":
            return tuple(decode(x, make_ref) for x in data[2])
        if kind == "list":
            return [decode(x, make_ref) for x in data[2]]
        if kind == "dict":
            return {decode(k, make_ref): decode(v, make_ref) for k, v in data[2]}
        if kind == "set":
            return {decode(x, make_ref) for x in data[2]}
        if kind == "ndarray":
            return data[2].numpy()
        if kind == "module":
            name = str(data[2])
            module = trusted_module(name)
            if module is not None:
                return module
            return make_ref(int(data[3]), f"module {name}"[:200])
        if kind == "ref":
            return make_ref(int(data[2]), str(data[3]) if len(data) > 3 else "object")
        raise WireError(f"unknown tag {kind!r}")
    return data


def apply_state(obj, state) -> None:
    """Update the grader's argument ``obj`` to the ``state`` the call left it in.

    Only values are copied, never types: a state that does not fit ``obj``
    (another shape, another structure) raises ``ValueError``.
    """
    if state is None:
        return
    if not (isinstance(state, tuple) and len(state) >= 3 and state[0] == TAG):
        raise ValueError("malformed argument state")
    kind = state[1]
    if kind == "tensor_state" and isinstance(obj, torch.Tensor):
        _copy_into(obj, state[2])
        if len(state) > 4 and obj.is_leaf and obj.is_floating_point():
            obj.requires_grad_(bool(state[4]))  # x.requires_grad_() in the answer
        grad = state[3]
        if grad is None:
            obj.grad = None
        elif obj.requires_grad and grad.shape == obj.shape:
            obj.grad = grad.to(obj.dtype)
    elif kind == "ndarray_state" and isinstance(obj, np.ndarray):
        new = state[2].numpy()
        if new.shape != obj.shape:
            raise ValueError("the call changed the shape of an array argument")
        if obj.flags.writeable and not np.array_equal(obj, new):
            obj[...] = new
    elif kind == "module_state" and isinstance(obj, torch.nn.Module):
        own = obj.state_dict(keep_vars=True)
        for key, value in state[2]:
            if key not in own:
                raise ValueError(f"the call added {key!r} to a model argument")
            apply_state(own[key], value)
        named = dict(obj.named_parameters())
        for name, requires_grad, grad in state[3]:
            if name in named:
                param = named[name]
                param.requires_grad_(bool(requires_grad))
                param.grad = None if grad is None or grad.shape != param.shape else grad
        modules = list(obj.modules())
        if len(modules) == len(state[4]):
            for module, training in zip(modules, state[4], strict=True):
                module.training = bool(training)
    elif kind == "seq_state" and isinstance(obj, (list, tuple)):
        if len(obj) == len(state[2]):
            for item, sub in zip(obj, state[2], strict=True):
                apply_state(item, sub)
    elif kind == "dict_state" and isinstance(obj, dict):
        for key, sub in state[2]:
            if key in obj:
                apply_state(obj[key], sub)


def _copy_into(target: torch.Tensor, new: torch.Tensor) -> None:
    """Write ``new`` into ``target`` where the call changed it (an unchanged
    argument is left alone, so views such as ``expand``-ed tensors stay fine)."""
    if target.shape == new.shape and torch.equal(
        target.detach().cpu(), new.to(target.dtype)
    ):
        return
    with torch.no_grad():
        if target.shape != new.shape:
            if target.requires_grad or target.grad_fn is not None:
                raise ValueError("the call changed the shape of a tensor argument")
            target.resize_(new.shape)
        target.copy_(new.to(target.dtype))
