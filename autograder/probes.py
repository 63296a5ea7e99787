"""Probes: what a test may ask about a student's function beyond its return value.

A test calls these the same way whichever engine runs it:

* in the student's own process (otter's runner on Gradescope, ``nbgrader
  autograde``) they run right there;
* under ``python -m autograder grade`` the test runs in the grader's process and
  the function is a proxy: the probe then runs *inside the sandbox*, next to the
  student's code, and only plain data comes back.

``source_of(fn)``
    The source of the notebook cell that defines ``fn``: for rules that no value
    can check ("do not call ``F.cross_entropy``"), checked with :mod:`ast`.
``grad_of(fn, *args, wrt=0, **kwargs)``
    The value of ``fn(*args, **kwargs)`` and its gradient with respect to
    ``args[wrt]``: returned tensors otherwise travel without their graph.

This module imports nothing heavy at import time.
"""

from __future__ import annotations

import linecache


class ProbeError(ValueError):
    """A probe cannot answer (the function is not the notebook's, say)."""


def source_of(fn) -> str:
    """Source of the notebook cell in which ``fn`` was defined.

    Raises :class:`ProbeError` when ``fn`` was not defined in the notebook (an
    alias of a library function, for example).
    """
    probe = getattr(type(fn), "_probe", None)
    if probe is not None:  # a proxy of an object in the sandbox
        return probe(fn, "source")
    return local_source(fn)


def grad_of(fn, *args, wrt=0, **kwargs):
    """``(value, grad)``: ``fn(*args, **kwargs)`` and d sum(value) / d ``args[wrt]``.

    ``args[wrt]`` is replaced by a detached copy that requires grad (a tensor), or,
    for an ``nn.Module``, its parameters are the variables and ``grad`` is a dict
    ``{parameter name: gradient}``.  ``wrt`` may be a tuple of positions; then
    ``grad`` is a tuple.  A gradient with no path to the value is ``None``.
    The value comes back detached.
    """
    probe = getattr(type(fn), "_probe", None)
    if probe is not None:
        return probe(fn, "grad", args=args, kwargs=kwargs, wrt=wrt)
    return local_grad(fn, args, kwargs, wrt)


# ------------------------------------------------------------ the implementations
def local_source(fn, cells: dict[str, str] | None = None) -> str:
    """The defining cell's source; ``cells`` maps code file names to sources (the
    sandbox's own copy, which student code cannot edit)."""
    code = getattr(fn, "__code__", None)
    if code is None or getattr(fn, "__module__", None) != "__main__":
        raise ProbeError(f"{_name(fn)} is not a function defined in the notebook")
    filename = code.co_filename
    if cells is not None:
        if filename not in cells:
            raise ProbeError(f"{_name(fn)} was not defined in a notebook cell")
        return cells[filename]
    lines = linecache.getlines(filename)
    if not lines:
        raise ProbeError(f"the source of {_name(fn)} is not available")
    return "".join(lines)


def local_grad(fn, args, kwargs, wrt):
    import torch

    positions = (wrt,) if isinstance(wrt, int) else tuple(wrt)
    args = list(args)
    variables = []  # per position: a tensor, or a list of (name, parameter)
    for i in positions:
        if not 0 <= i < len(args):
            raise ProbeError(f"wrt={i}: the call has {len(args)} positional arguments")
        arg = args[i]
        if isinstance(arg, torch.nn.Module):
            variables.append(
                [(n, p) for n, p in arg.named_parameters() if p.requires_grad]
            )
        elif isinstance(arg, torch.Tensor) and arg.is_floating_point():
            args[i] = arg.detach().clone().requires_grad_(True)
            variables.append(args[i])
        else:
            raise ProbeError(
                f"wrt={i}: need a floating-point tensor or a module, "
                f"got {type(arg).__name__}"
            )
    value = fn(*args, **kwargs)
    if not isinstance(value, torch.Tensor):
        raise ProbeError(f"the function returned {type(value).__name__}, not a tensor")
    flat = []
    for v in variables:
        flat += [v] if isinstance(v, torch.Tensor) else [p for _, p in v]
    if value.requires_grad and flat:
        grads = list(torch.autograd.grad(value.sum(), flat, allow_unused=True))
    else:
        grads = [None] * len(flat)
    out = []
    for v in variables:
        if isinstance(v, torch.Tensor):
            out.append(grads.pop(0))
        else:
            out.append({n: grads.pop(0) for n, _ in v})
    result = out[0] if isinstance(wrt, int) else tuple(out)
    return value.detach(), result


def _name(fn) -> str:
    return getattr(fn, "__name__", type(fn).__name__)
