"""The wire between the grader and the sandbox that runs a student's code.

This module holds the framing and the pickling of calls, and imports no torch, so
a grader can start a sandbox before it loads torch; the plain-data codec for
answers is :mod:`autograder.codec`.

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

import os
import pickle
import select
import struct
import time

MAX_MESSAGE = 96 * 2**20  # bytes: one answer's 64 MB payload and its framing
HEADER = struct.Struct("!Q")


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
