"""The garbage collector's policy during invocations, shared safely by concurrent invocations.

Loading and replaying a long history allocates only acyclic data: the cyclic garbage collector would
rescan all of it again and again. Each invocation holds a :class:`GcPause` from its start until its
workflow reaches new work (:meth:`GcPause.release`); the collector is off while any invocation holds one,
and back on when the last one lets go. The local service drives several invocations at once on its own
threads: a counter, not each invocation's view of ``gc.isenabled()``, decides, so one invocation never
turns the collector back on under another that is still replaying.

New work keeps the collector on, but a full collection must not rescan what is known to live on: whatever
survives a full collection during an invocation is frozen (``gc.freeze()``), and so, when the collector
comes back on after a replay that left at least :data:`FREEZE_AT` young objects (a long map's frames and
contexts), is everything alive: that replay's objects are first scanned once (``gc.collect(1)``: what it
left unreachable is collected, and the rest is promoted as the collector counts promotions). Every object
is then scanned by at most one full collection per invocation, so a first run's collector work stays flat
per item however many frames, records and branches it holds (the collector's own rule would rescan the
whole heap every 70,000 allocations or so: quadratic up to a few hundred thousand objects). Young
collections wait for :data:`YOUNG_FACTOR` times more allocations than before, so fewer short-lived objects
(a branch's frame, a step's bookkeeping) outlive one and end up in the older generations. When the last
invocation ends (:meth:`GcPause.end`) everything frozen is unfrozen and the thresholds are restored: the
process's collector is as it was.

A short replay's young objects are never frozen. Frozen objects come back (unfrozen) in the oldest
generation without being counted as promoted, and freezing resets the young generation's count: a warm
process serving many short invocations that each froze its young objects never ran a full collection, and
the cyclic garbage its invocations made piled up (1.15 million objects, 225 MB, after 50,000 invocations;
``tests/core/test_interpreter.py`` checks that it stays bounded).

The raised thresholds and the freeze hook are set up lazily, when the collector comes back on (a replay
that never reaches new work leaves them alone).

When the collector was already off at the first pause (the application turned it off), or the
application froze objects itself (``gc.get_freeze_count()``), pauses leave the collector alone.
"""

from __future__ import annotations

import gc
import threading
from typing import Any

__all__ = ["GcPause", "holders"]

_lock = threading.RLock()  # re-entered by a collection that a holder's own allocation sets off
_holders = 0  # pauses held now; the collector is off while this is positive
_active = 0  # invocations in progress (that manage the collector)
_freezing = False  # survivors are frozen (when it came back on, nothing was frozen)
#: the collector's thresholds before it came back on during invocations and they were raised (empty: it has
#: not come back on since the first active invocation began)
_thresholds: tuple[int, ...] = ()
#: while invocations run, a young collection waits for this many times more allocations than it did before
YOUNG_FACTOR = 10
#: a replay that leaves at least this many young objects (``gc.get_count()[0]``) has them frozen at new work
FREEZE_AT = 50_000


class GcPause:
    """One invocation's hold on the collector: paused at construction, :meth:`release` at the first new
    work, :meth:`end` when the invocation returns (each a no-op the second time)."""

    __slots__ = ("active", "held")

    def __init__(self) -> None:
        global _holders, _active
        with _lock:
            #: whether this pause counts (``False``: the collector was off already, and is left so)
            self.held = _holders > 0 or gc.isenabled()
            #: whether this invocation counts among those in progress (until :meth:`end`)
            self.active = self.held
            if self.held:
                _holders += 1
                gc.disable()
                _active += 1

    def release(self) -> None:
        """Give the hold back (a second call does nothing); the last holder turns the collector on."""
        self._release(continuing=True)

    def _release(self, continuing: bool) -> None:
        global _holders
        if not self.held:
            return
        with _lock:
            if not self.held:
                return
            self.held = False
            _holders -= 1
            if _holders == 0:
                if not _thresholds and (continuing or _active > 1):  # new work runs with the collector on
                    _begin()
                if _freezing and gc.get_count()[0] >= FREEZE_AT:
                    # A long replay's objects are scanned once here (what it left unreachable is collected;
                    # the rest is promoted, as the collector counts promotions) and frozen with what the
                    # process held: full collections during the new work do not rescan them. A short one's
                    # are left to the collector: freezing young objects takes them past its accounting (the
                    # unfrozen come back uncounted), and a warm process's full collections would starve.
                    gc.collect(1)
                    gc.freeze()
                gc.enable()

    def end(self) -> None:
        """The invocation returns: the pause is released; the last invocation unfreezes what was frozen."""
        global _active
        self._release(continuing=False)
        if not self.active:
            return
        with _lock:
            if not self.active:
                return
            self.active = False
            _active -= 1
            if _active == 0:
                _finish()


def _begin() -> None:
    """The collector comes back on under invocations: survivors will be frozen, young collections rarer."""
    global _freezing, _thresholds
    if gc.get_freeze_count() == 0:
        _freezing = True
        gc.callbacks.append(_freeze_survivors)
    _thresholds = young, middle, old = gc.get_threshold()
    if young:  # 0: the application turned automatic collection off
        gc.set_threshold(young * YOUNG_FACTOR, middle, old)


def _finish() -> None:
    """The last invocation in progress ended: the collector is as it was before the first began."""
    global _freezing, _thresholds
    if not _thresholds:  # it never came back on: nothing was raised or frozen
        return
    gc.set_threshold(*_thresholds)
    _thresholds = ()
    if _freezing:
        _freezing = False
        gc.callbacks.remove(_freeze_survivors)
        gc.unfreeze()


def _freeze_survivors(phase: str, info: dict[str, Any]) -> None:
    """``gc.callbacks``: after a full collection during an invocation, freeze what survived it."""
    if phase == "stop" and info["generation"] == 2 and _freezing:
        with _lock:  # never after the last invocation unfroze: that would freeze for good
            if _freezing:
                gc.freeze()


def holders() -> int:
    """How many pauses are held now (for tests)."""
    return _holders
