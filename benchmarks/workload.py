"""The shared workload: one invocation event (JSON bytes) with an EXECUTION op and N succeeded steps.

Every system under test gets *the same bytes*. Step ``i`` (0-based) is named ``f"s{i}"``, returned ``i``,
and has the id the official SDK derives for root operation ``i + 1``: ``blake2b(str(i + 1))[:64]``.
In paged form the event carries the first page plus a ``NextMarker``; the remaining operations come
from ``GetDurableExecutionState`` pages (pre-serialized JSON, parsed by the stub at call time), the
way the service delivers a history too big for one invocation payload.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from hashlib import blake2b
from typing import Any

import orjson

__all__ = [
    "ARN",
    "EXECUTION_ID",
    "NEW_STEP_NAME",
    "PAGE_SIZE",
    "Workload",
    "build_workload",
    "step_id",
]

EXECUTION_ID = "0b5f1c9e-bench-execution"
ARN = f"arn:aws:lambda:us-east-1:123456789012:function:bench:1/durable-execution/bench-run/{EXECUTION_ID}"
#: ``MaxItems`` the SDKs ask for, and the size of each page the stub serves (also the event's first page).
PAGE_SIZE = 1000
NEW_STEP_NAME = "new"
_T0 = 1_764_000_000_000  # epoch ms


def step_id(n: int) -> str:
    """The id of root operation ``n`` (counting from 1), as both SDKs derive it."""
    return blake2b(str(n).encode()).hexdigest()[:64]


def _execution_op() -> dict[str, Any]:
    return {
        "Id": EXECUTION_ID,
        "Type": "EXECUTION",
        "Status": "STARTED",
        "Name": "bench-run",
        "StartTimestamp": _T0,
        "ExecutionDetails": {"InputPayload": "{}"},
    }


def _step_op(i: int) -> dict[str, Any]:
    return {
        "Id": step_id(i + 1),
        "Type": "STEP",
        "SubType": "Step",
        "Name": f"s{i}",
        "Status": "SUCCEEDED",
        "StartTimestamp": _T0 + 2 * i,
        "EndTimestamp": _T0 + 2 * i + 1,
        "StepDetails": {"Attempt": 1, "Result": orjson.dumps(i).decode()},
    }


@dataclass(frozen=True)
class Workload:
    """An invocation event and the state pages behind its ``NextMarker`` (empty when single-page)."""

    n: int
    paged: bool
    event_json: bytes
    #: marker -> JSON bytes of the ``GetDurableExecutionState`` response for that marker.
    pages: dict[str, bytes] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return "paged" if self.paged else "1 page"


def build_workload(n: int, *, paged: bool, page_size: int = PAGE_SIZE, with_history: bool = True) -> Workload:
    """The event for an execution that has completed ``n`` steps (``with_history=False``: a first run)."""
    ops = [_execution_op()]
    if with_history:
        ops.extend(_step_op(i) for i in range(n))
    pages: dict[str, bytes] = {}
    if paged and len(ops) > page_size:
        chunks = [ops[k : k + page_size] for k in range(0, len(ops), page_size)]
        markers = [f"page-{k}" for k in range(len(chunks))]
        first, rest = chunks[0], chunks[1:]
        for k, chunk in enumerate(rest, start=1):
            nxt = markers[k + 1] if k + 1 < len(chunks) else None
            body: dict[str, Any] = {"Operations": chunk}
            if nxt is not None:
                body["NextMarker"] = nxt
            pages[markers[k]] = orjson.dumps(body)
        state: dict[str, Any] = {"Operations": first, "NextMarker": markers[1]}
    else:
        state = {"Operations": ops, "NextMarker": ""}
    event = {
        "DurableExecutionArn": ARN,
        "CheckpointToken": "token-0",
        "InitialExecutionState": state,
        "UpdatedOperationIds": [],
    }
    return Workload(n, paged, orjson.dumps(event), pages)
