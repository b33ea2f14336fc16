"""``ctx.wait``: a durable timer. The service keeps the time; the invocation suspends meanwhile."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._interpreter import BLOCKED
from .base import Operation, field, update

if TYPE_CHECKING:
    from .._interpreter import Frame, Interpreter

__all__ = ["Wait"]

_DONE = frozenset({"SUCCEEDED", "CANCELLED", "FAILED", "TIMED_OUT", "STOPPED"})


class Wait(Operation[None]):
    """Suspend for ``seconds`` (whole seconds, 1 s to 366 days)."""

    __slots__ = ()
    _fields = ("seconds", "name")
    seconds: int = field(0)
    name: str | None = field(1)

    def __new__(cls, seconds: int, name: str | None) -> Wait:
        return tuple.__new__(cls, (seconds, name))

    def _run(self, it: Interpreter, frame: Frame) -> Any:
        op_id, rec = it.claim(frame, "WAIT", "Wait", self.name)
        if rec is None:
            start = update("WAIT", "START", op_id, "Wait", self.name, frame.scope.parent_id)
            start["WaitOptions"] = {"WaitSeconds": self.seconds}
            it.enqueue(start)
            it.operation_started(frame, op_id, "WAIT", "Wait", self.name)
            return it.wait_for(frame, op_id, _elapsed, timer=True)
        if rec["Status"] in _DONE:
            return None
        return it.wait_for(frame, op_id, _elapsed, timer=True)


def _elapsed(rec: Any) -> Any:
    return None if rec["Status"] in _DONE else BLOCKED
