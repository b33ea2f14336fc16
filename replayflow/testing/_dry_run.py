"""What a dry run injects into the real interpreter: a side-effect policy and a recording transport.

:class:`DryRun` declines every piece of new work (an operation with no record, another attempt of a step
body or condition check) and keeps where each frame stopped as a :class:`Planned` entry.
:class:`RecordingTransport` is a ``Transport`` that sends nothing: it keeps the updates a checkpoint would
send and answers as a service that changed nothing. ``replay()`` drives the production interpreter and
checkpointer with both, so the engine itself has no dry-run mode.
"""

from __future__ import annotations

import threading
from typing import Any

from replayflow._errors import TokenRevoked
from replayflow._interpreter import Frame, Park
from replayflow._ops.base import DurableOperation as Operation
from replayflow._wire import (
    CheckpointRequest,
    CheckpointResponse,
    GetStateRequest,
    GetStateResponse,
    OperationUpdateDict,
)

__all__ = ["DryRun", "Planned", "RecordingTransport"]


class Planned:
    """What a frame would do next (start an operation, or run another attempt of one)."""

    __slots__ = ("action", "attempt", "cancel", "location", "op", "op_id", "parent_id", "scope_label")

    def __init__(self, op: Operation[Any], park: Park, frame: Frame) -> None:
        self.op = op
        #: set once the frame is abandoned (an orphaned branch, or anything inside one)
        self.cancel: threading.Event = frame.cancel
        self.op_id = park.op_id
        self.action = park.action
        self.attempt = park.attempt
        self.parent_id = frame.scope.parent_id
        self.scope_label = frame.scope.label
        self.location = frame.location()

    @property
    def abandoned(self) -> bool:
        """Work of an orphaned branch (or of anything inside one): nobody waits for it."""
        return self.cancel.is_set()

    def __repr__(self) -> str:
        return f"Planned({self.action} {self.op!r} id={self.op_id[:12]}... attempt={self.attempt})"


class DryRun:
    """The side-effect policy of a dry run: nothing new runs; :attr:`planned` says where each frame stopped."""

    __slots__ = ("planned",)

    def __init__(self) -> None:
        self.planned: list[Planned] = []

    def allows(self, op_id: str, action: str, attempt: int) -> bool:
        return False

    def stopped(self, op: Operation[Any], park: Park, frame: Frame) -> None:
        self.planned.append(Planned(op, park, frame))


class RecordingTransport:
    """A transport that sends nothing: :attr:`updates` holds every update checkpointed through it, in order."""

    def __init__(self) -> None:
        self.updates: list[OperationUpdateDict] = []

    def checkpoint_durable_execution(self, request: CheckpointRequest) -> CheckpointResponse:
        """Keep the updates; the token stays valid and nothing changed on the "service"."""
        self.updates.extend(request["Updates"])
        return {"CheckpointToken": request["CheckpointToken"], "NewExecutionState": {"Operations": []}}

    def get_durable_execution_state(self, request: GetStateRequest) -> GetStateResponse:
        """There is no service to read pages from."""
        raise TokenRevoked("a dry run cannot read more state pages")
