"""Pages of an execution's operations, as invocations and GetDurableExecutionState hand them out.

Operations come in start order, bounded by a count and by their payloads' bytes (see
:func:`.shapes.operation_bytes`). Operations inside a completed CONTEXT are left out unless it replays its
children (as the service does: they are not needed to replay).
"""

from __future__ import annotations

from replayflow._wire import TERMINAL_STATUSES, OperationDict

from .records import Execution
from .shapes import operation_bytes

__all__ = ["TERMINAL_OP", "operations_page"]

#: an operation the service changes no more (the wire's one set)
TERMINAL_OP = TERMINAL_STATUSES


def operations_page(ex: Execution, start: int, size: int, page_bytes: int) -> tuple[list[OperationDict], str | None]:
    """Up to ``size`` operations from position ``start`` (within ``page_bytes``), and the next marker."""
    order = ex.order
    ops = ex.ops
    end = len(order)
    budget = page_bytes
    out: list[OperationDict] = []
    index = start
    while index < end and len(out) < size:
        op = ops[order[index]]
        if "ParentId" not in op or _visible(ex, op):
            budget -= operation_bytes(op)
            if budget < 0 and out:
                break  # the next page starts with this operation
            out.append(op)
        index += 1
    return out, (str(index) if index < end else None)


def _visible(ex: Execution, op: OperationDict) -> bool:
    ops = ex.ops
    parent_id = op.get("ParentId")
    while parent_id is not None:
        parent = ops.get(parent_id)
        if parent is None:
            return True
        if parent["Status"] in TERMINAL_OP and not (parent.get("ContextDetails") or {}).get("ReplayChildren"):
            return False
        parent_id = parent.get("ParentId")
    return True
