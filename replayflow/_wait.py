"""``ctx.wait``: a durable timer. The service keeps the time; the invocation suspends meanwhile."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._interpreter import BLOCKED
from ._operation import Operation, field

if TYPE_CHECKING:
    from ._interpreter import Frame, Interpreter

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
            update: dict[str, Any] = {
                "Id": op_id,
                "Type": "WAIT",
                "Action": "START",
                "SubType": "Wait",
                "WaitOptions": {"WaitSeconds": self.seconds},
            }
            if self.name is not None:
                update["Name"] = self.name
            if frame.scope.parent_id is not None:
                update["ParentId"] = frame.scope.parent_id
            it.enqueue(update)
            it.operation_started(frame, op_id, "WAIT", "Wait", self.name)
            return it.wait_for(frame, op_id, _elapsed)
        if rec["Status"] in _DONE:
            return None
        return it.wait_for(frame, op_id, _elapsed)


def _elapsed(rec: Any) -> Any:
    return None if rec["Status"] in _DONE else BLOCKED
