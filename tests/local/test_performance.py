"""The in-memory checkpoint path stays lean: O(1) per update, microseconds per checkpoint."""

from __future__ import annotations

import time
from typing import Any

import pytest

from replayflow.local import Limits, LocalDurableService

from .raw import op_id


@pytest.mark.slow
def test_checkpoint_cost_is_flat() -> None:
    """20,000 checkpoints of START+SUCCEED: the last thousand cost no more than the first (no scans)."""
    n = 20_000
    requests = [
        [
            {"Id": oid, "Type": "STEP", "SubType": "Step", "Name": "s", "Action": "START"},
            {"Id": oid, "Type": "STEP", "SubType": "Step", "Name": "s", "Action": "SUCCEED", "Payload": str(i)},
        ]
        for i, oid in enumerate(op_id(i) for i in range(1, n + 1))
    ]
    timings: dict[str, float] = {}

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        checkpoint = svc.checkpoint_durable_execution
        arn, token = event["DurableExecutionArn"], event["CheckpointToken"]
        marks = []
        started = time.perf_counter()
        for index, updates in enumerate(requests):
            token = checkpoint({"DurableExecutionArn": arn, "CheckpointToken": token, "Updates": updates})[
                "CheckpointToken"  # type: ignore[typeddict-item]
            ]
            if index in (999, n - 1001, n - 1):
                marks.append(time.perf_counter())
        timings["total"] = time.perf_counter() - started
        timings["first"] = marks[0] - started
        timings["last"] = marks[2] - marks[1]
        return {"Status": "SUCCEEDED"}

    svc = LocalDurableService(limits=Limits(max_operations=n))  # over AWS's 3,000 on purpose
    svc.register("f", handler)
    assert svc.run("f").succeeded
    per_checkpoint = timings["total"] / n
    assert per_checkpoint < 100e-6, f"{per_checkpoint * 1e6:.1f} us per checkpoint"
    assert timings["last"] < timings["first"] * 3 + 0.01
