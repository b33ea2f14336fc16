"""The live timeline of ``replayflow run``: nested operations indented, map/parallel branches folded.

A 200-item map would print some 800 lines of branch events; instead each batch prints a progress line
(``map 'fan': 143/200 done, 2 failed``) about every tenth of its branches, and when its last one ends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._common import Timestamp, describe_event, ending

__all__ = ["Timeline"]

_BATCHES = {"Map": "map", "Parallel": "parallel"}
_BRANCHES = {"MapIteration", "ParallelBranch"}


class _Batch:
    __slots__ = ("done", "failed", "kind", "name", "printed", "started")

    def __init__(self, kind: str, name: str) -> None:
        self.kind = kind
        self.name = name
        self.started = 0
        self.done = 0
        self.failed = 0
        self.printed = 0

    def progress(self) -> str:
        failed = f", {self.failed} failed" if self.failed else ""
        return f"{self.kind} {self.name!r}: {self.done}/{self.started} done{failed}"


class Timeline:
    """Turns history events, in order, into the lines to print."""

    def __init__(self, start: Timestamp) -> None:
        self.start = start
        self._parents: dict[str, str] = {}
        self._batches: dict[str, _Batch] = {}

    def lines(self, event: Mapping[str, Any]) -> list[str]:
        """The lines for ``event`` (none for an event folded into its batch's progress)."""
        op_id = str(event.get("Id") or "")
        parent = event.get("ParentId")
        kind = str(event.get("EventType", ""))
        sub_type = event.get("SubType")
        self._note(op_id, parent, kind, sub_type, event)
        batch_id = self._enclosing_batch(op_id)
        if batch_id is None:
            return [describe_event(event, self.start, indent=self._depth(op_id))]
        if sub_type not in _BRANCHES or parent != batch_id:
            return []  # inside a branch: folded
        return self._branch_event(batch_id, kind)

    def _note(self, op_id: str, parent: object, kind: str, sub_type: object, event: Mapping[str, Any]) -> None:
        """Remember the operation's parent, and each batch as it starts."""
        if op_id and isinstance(parent, str):
            self._parents.setdefault(op_id, parent)
        if kind == "ContextStarted" and isinstance(sub_type, str) and sub_type in _BATCHES:
            self._batches[op_id] = _Batch(_BATCHES[sub_type], str(event.get("Name") or op_id[:12]))

    def _branch_event(self, batch_id: str, kind: str) -> list[str]:
        """Count a branch's start or end into its batch; a progress line about every tenth of the branches."""
        batch = self._batches[batch_id]
        if kind == "ContextStarted":
            batch.started += 1
            return []
        if ending(kind) is None:
            return []
        batch.done += 1
        batch.failed += kind == "ContextFailed"
        if batch.done - batch.printed < max(1, batch.started // 10) and batch.done != batch.started:
            return []
        batch.printed = batch.done
        return [" " * 16 + "  " * (self._depth(batch_id) + 1) + batch.progress()]

    def _ancestors(self, op_id: str) -> list[str]:
        found: list[str] = []
        current = self._parents.get(op_id)
        while current is not None and current not in found:
            found.append(current)
            current = self._parents.get(current)
        return found

    def _depth(self, op_id: str) -> int:
        return len(self._ancestors(op_id))

    def _enclosing_batch(self, op_id: str) -> str | None:
        """The outermost batch above ``op_id`` (everything under a batch is folded into it)."""
        batches = [a for a in self._ancestors(op_id) if a in self._batches]
        return batches[-1] if batches else None
