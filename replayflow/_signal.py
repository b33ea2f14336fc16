"""A cancellation signal: a :class:`threading.Event` whose Condition is made when it is first needed.

Every invocation makes one (its shutdown signal) and every batch another; almost all of them are only
ever asked ``is_set()``, and a Condition costs more to make than the rest of an interpreter's state.
``set()`` and ``wait()`` make it (once, under a lock: two threads may be first at the same time).
"""

from __future__ import annotations

import threading

__all__ = ["Signal"]

_MAKING = threading.Lock()


class Signal(threading.Event):
    """``threading.Event`` with a lazily made Condition (the same behaviour, cheaper to make)."""

    def __init__(self) -> None:  # no super().__init__(): it would make the Condition
        self._flag = False
        self._made: threading.Condition | None = None

    @property
    def _cond(self) -> threading.Condition:  # what every threading.Event method reads
        made = self._made
        if made is None:
            with _MAKING:
                made = self._made
                if made is None:
                    made = self._made = threading.Condition(threading.Lock())
        return made
