"""Replay-safe time, randomness and ids for workflow code (Temporal's ``workflow.now()/random()/uuid4()``).

Workflow code runs again on every replay, so ``datetime.now()``, ``random`` and ``uuid.uuid4()`` would give
it different values each time. ``ctx`` offers replay-safe versions, built on what this protocol records:

=================== ============================================ ===========================================
``ctx``             first run / every replay                     durable cost
=================== ============================================ ===========================================
``yield ctx.now()`` the wall clock (UTC ``datetime``) when the   one STEP operation (a ~40-byte payload);
                    operation first ran / the recorded value     reuse the value rather than calling often
``ctx.random()``    a ``random.Random`` seeded from the          none: no operation, no checkpoint
                    execution ARN, the scope, the operation
                    count and the call's position / the same
``ctx.uuid4()``     a version-4 UUID from the same seed /        none: no operation, no checkpoint
                    the same UUID
=================== ============================================ ===========================================

The seed of ``random()`` and ``uuid4()`` is ``blake2b(arn, scope, n, k)``: the execution's ARN (so other
executions get other values), the id of the child context or branch the code runs in, the number ``n`` of
operations that scope has started so far, and ``k``, how many ``random()``/``uuid4()`` calls the scope made
since its ``n``-th operation. Replays reach every call with the same four values, so they see the same
numbers; adding a call after operation ``n`` shifts only the calls made before operation ``n + 1``. They are
reproducible, not secret: use ``secrets`` inside a step for tokens.
"""

from __future__ import annotations

import datetime as _dt
import random as _random
import uuid as _uuid
import weakref
from typing import TYPE_CHECKING

from ._ids import blake2b
from ._ops.step import DEFAULT_CONFIG, Step

if TYPE_CHECKING:
    from ._interpreter import Interpreter, Scope

__all__ = ["deterministic_random", "deterministic_uuid4", "now_step"]

#: interpreter -> scope prefix -> (operations started when last called, calls since then)
_CALLS: weakref.WeakKeyDictionary[Interpreter, dict[str | None, tuple[int, int]]] = weakref.WeakKeyDictionary()


def utc_now() -> _dt.datetime:
    """The wall clock, as an aware UTC datetime (the body of ``ctx.now()``)."""
    return _dt.datetime.now(_dt.UTC)


def now_step(name: str | None) -> Step[_dt.datetime]:
    """The ``ctx.now()`` operation: a step checkpointing :func:`utc_now`, read back as a ``datetime``."""
    return Step.of(utc_now, (), {}, name or "now", DEFAULT_CONFIG, _dt.datetime)


def _seed(it: Interpreter, scope: Scope) -> bytes:
    calls = _CALLS.get(it)
    if calls is None:
        calls = _CALLS[it] = {}
    started, since = calls.get(scope.prefix, (scope.counter, 0))
    k = since if started == scope.counter else 0
    calls[scope.prefix] = (scope.counter, k + 1)
    key = f"{it.arn}\x00{scope.prefix or ''}\x00{scope.counter}\x00{k}"
    return blake2b(key.encode(), digest_size=32).digest()


def deterministic_random(it: Interpreter, scope: Scope) -> _random.Random:
    """A ``random.Random`` seeded deterministically for this call (see the module docstring)."""
    return _random.Random(int.from_bytes(_seed(it, scope), "big"))


def deterministic_uuid4(it: Interpreter, scope: Scope) -> _uuid.UUID:
    """A version-4 UUID derived deterministically for this call (see the module docstring)."""
    return _uuid.UUID(bytes=_seed(it, scope)[:16], version=4)
