"""The garbage collector's pause while invocations replay, shared safely by concurrent invocations.

Loading and replaying a long history allocates only acyclic data: the cyclic garbage collector would
rescan all of it again and again. Each invocation holds a :class:`GcPause` from its start until its
workflow reaches new work (or the invocation ends); the collector is off while any invocation holds one,
and back on when the last one lets go. The local service drives several invocations at once on its own
threads: a counter, not each invocation's view of ``gc.isenabled()``, decides, so one invocation never
turns the collector back on under another that is still replaying. When the collector was already off
at the first pause (the application turned it off), pauses leave it alone.
"""

from __future__ import annotations

import gc
import threading

__all__ = ["GcPause", "holders"]

_lock = threading.Lock()
_holders = 0  # pauses held now; the collector is off while this is positive


class GcPause:
    """One invocation's hold on the pause: taken at construction, given back once by :meth:`release`."""

    __slots__ = ("held",)

    def __init__(self) -> None:
        global _holders
        with _lock:
            #: whether this pause counts (``False``: the collector was off already, and is left so)
            self.held = _holders > 0 or gc.isenabled()
            if self.held:
                _holders += 1
                gc.disable()

    def release(self) -> None:
        """Give the hold back (a second call does nothing); the last holder turns the collector on."""
        global _holders
        if not self.held:
            return
        with _lock:
            if not self.held:
                return
            self.held = False
            _holders -= 1
            if _holders == 0:
                gc.enable()


def holders() -> int:
    """How many pauses are held now (for tests)."""
    return _holders
