"""Pages of an execution's operations, as invocations and GetDurableExecutionState hand them out.

Operations come in start order, bounded by a count and by their payloads' bytes (see
:func:`.shapes.operation_bytes`). Operations inside a completed CONTEXT are left out unless it replays its
children (as the service does: they are not needed to replay).

A marker is a position in the execution's start order. Which positions are visible is worked out once per
state of the execution (:func:`visible_positions`, cached until an operation is added or changed), so a
page costs its own operations, not a scan over the hidden ones before them: a replay of 16,000 steps in
completed child contexts reads its second page without walking the 16,000 records it leaves out.
"""

from __future__ import annotations

from bisect import bisect_left

from replayflow._wire import TERMINAL_STATUSES, OperationDict

from .records import Execution
from .shapes import operation_bytes

__all__ = ["TERMINAL_OP", "operations_page", "visible_positions"]

#: an operation the service changes no more (the wire's one set)
TERMINAL_OP = TERMINAL_STATUSES


def operations_page(ex: Execution, start: int, size: int, page_bytes: int) -> tuple[list[OperationDict], str | None]:
    """Up to ``size`` operations from position ``start`` (within ``page_bytes``), and the next marker."""
    positions = visible_positions(ex)
    order, ops = ex.order, ex.ops
    budget = page_bytes
    out: list[OperationDict] = []
    at = bisect_left(positions, start)
    end = len(positions)
    while at < end and len(out) < size:
        op = ops[order[positions[at]]]
        budget -= operation_bytes(op)
        if budget < 0 and out:
            break  # the next page starts with this operation
        out.append(op)
        at += 1
    return out, (str(positions[at]) if at < end else None)


def visible_positions(ex: Execution) -> list[int]:
    """The positions in ``ex.order`` of the operations a page hands out now, ascending (cached)."""
    version = (len(ex.order), len(ex.changes))
    cached = ex.visible
    if cached is not None and cached[0] == version:
        return cached[1]
    ops = ex.ops
    shown: dict[str | None, bool] = {None: True}  # parent id -> whether its children are handed out
    positions = [i for i, op_id in enumerate(ex.order) if _shown_under(ops, shown, ops[op_id].get("ParentId"))]
    ex.visible = (version, positions)
    return positions


def _shown_under(ops: dict[str, OperationDict], shown: dict[str | None, bool], parent_id: str | None) -> bool:
    """Whether the children of ``parent_id`` are handed out: no ancestor is a completed operation that
    leaves its children out (an unknown parent hides nothing). Memoized in ``shown``, so each ancestor is
    decided once however deep the nesting."""
    known = shown.get(parent_id)
    if known is not None:
        return known
    chain: list[str] = []  # ancestors not decided yet, nearest first
    answer = True
    while parent_id is not None:
        known = shown.get(parent_id)
        if known is not None:
            answer = known
            break
        parent = ops.get(parent_id)
        if parent is None:
            break
        chain.append(parent_id)
        if parent["Status"] in TERMINAL_OP and not (parent.get("ContextDetails") or {}).get("ReplayChildren"):
            answer = False
            break
        parent_id = parent.get("ParentId")
    for ancestor in chain:
        shown[ancestor] = answer
    return answer
