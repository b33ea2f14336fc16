"""``ctx.wait``: a durable timer. The service keeps the time; the invocation suspends meanwhile.

=========== =====================================================================================
no record   START with the wait's seconds, then park on the timer
terminal    the wait is over: return ``None``
otherwise   park on the timer until the service ends the wait
=========== =====================================================================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from replayflow._wire import TERMINAL_STATUSES, OperationDict

from .base import BLOCKED, DurableOperation, Host, field
from .outcome import start, update

if TYPE_CHECKING:
    from replayflow._interpreter import Frame

__all__ = ["Wait"]


class Wait(DurableOperation[None]):
    """Suspend for ``seconds`` (whole seconds, 1 s to 366 days)."""

    __slots__ = ()
    _fields = ("seconds", "name")
    seconds: int = field(0)
    name: str | None = field(1)

    def __new__(cls, seconds: int, name: str | None) -> Wait:
        return tuple.__new__(cls, (seconds, name))

    def run(self, it: Host, frame: Frame) -> Any:
        op_id, rec = it.claim(frame, "WAIT", "Wait", self.name)
        if rec is None:
            started = update("WAIT", "START", op_id, "Wait", self.name, frame.scope.parent_id)
            started["WaitOptions"] = {"WaitSeconds": self.seconds}
            start(it, frame, started, self.name)
        elif rec["Status"] in TERMINAL_STATUSES:
            return None
        return it.wait_for(frame, op_id, _elapsed, timer=True)


def _elapsed(rec: OperationDict) -> object:
    return None if rec["Status"] in TERMINAL_STATUSES else BLOCKED
