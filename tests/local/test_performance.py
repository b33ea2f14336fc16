"""The in-memory checkpoint path stays lean: the work per checkpoint does not grow with the history.

Work is counted (Python lines the local service runs), never timed: see ``tests/workcount.py``.
"""

from __future__ import annotations

from typing import Any

from replayflow.local import Limits, LocalDurableService
from tests.workcount import count_lines

from .raw import op_id


def test_checkpoint_work_is_flat() -> None:
    """4,000 checkpoints of START+SUCCEED: the last 200 run the same lines as 200 early ones (no scans)."""
    n, window = 4_000, 200
    requests = [
        [
            {"Id": oid, "Type": "STEP", "SubType": "Step", "Name": "s", "Action": "START"},
            {"Id": oid, "Type": "STEP", "SubType": "Step", "Name": "s", "Action": "SUCCEED", "Payload": str(i)},
        ]
        for i, oid in enumerate(op_id(i) for i in range(1, n + 1))
    ]
    lines: list[int] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        checkpoint = svc.checkpoint_durable_execution
        arn, token = event["DurableExecutionArn"], event["CheckpointToken"]

        def send(updates: list[dict[str, Any]]) -> None:
            nonlocal token
            request = {"DurableExecutionArn": arn, "CheckpointToken": token, "Updates": updates}
            token = checkpoint(request)["CheckpointToken"]  # type: ignore[arg-type,typeddict-item]

        for index, updates in enumerate(requests):
            if index in (window, n - window):
                with count_lines("replayflow/local/") as counter:
                    for later in requests[index : index + window]:
                        send(later)
                lines.append(counter.lines)
            elif not (window < index < window * 2 or index > n - window):
                send(updates)
        return {"Status": "SUCCEEDED"}

    svc = LocalDurableService(limits=Limits(max_operations=n))  # over AWS's 3,000 on purpose
    svc.register("f", handler)
    assert svc.run("f").succeeded
    early, late = lines
    assert early > window * 20  # the counter sees the service's work
    assert late <= early * 1.05, f"{early} lines for 200 early checkpoints, {late} for 200 late ones"
