"""The service's public face: registering functions, latency and call counting."""

from __future__ import annotations

from typing import Any

import pytest

import replayflow
from replayflow.local import LocalDurableService

from .raw import Session, op_id, raw_handler, step
from .workflows import approval


def test_latency_and_call_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    from replayflow.local import checkpoints

    slept: list[float] = []
    monkeypatch.setattr(checkpoints, "time", type("FakeTime", (), {"sleep": staticmethod(slept.append)}))
    svc = LocalDurableService(latency=0.01)

    def body(s: Session) -> dict[str, Any]:
        for i in range(1, 6):
            s.checkpoint(step(op_id(i)), step(op_id(i), "SUCCEED", Payload="1"))
        s.transport.get_durable_execution_state({"DurableExecutionArn": s.arn, "CheckpointToken": s.token or ""})
        return {"Status": "SUCCEEDED"}

    svc.register("f", raw_handler(body))
    assert svc.run("f").succeeded
    assert slept == [0.01] * 6  # every service call pays the latency: 5 checkpoints and 1 state read
    assert svc.calls["CheckpointDurableExecution"] == 5 and svc.calls["GetDurableExecutionState"] == 1


def test_register_validation() -> None:
    svc = LocalDurableService()
    with pytest.raises(ValueError, match="invalid function name"):
        svc.register("bad.name", approval)
    with pytest.raises(ValueError, match="execution_timeout"):
        svc.register("f", approval, execution_timeout=0)
    svc.register("plain", lambda event, context: event, durable=False)
    with pytest.raises(replayflow.ServiceError, match="not a durable function"):
        svc.start_execution("plain", "{}")
    with pytest.raises(replayflow.ServiceError) as bad_name:
        svc.register("f", approval)
        svc.start_execution("f", "{}", name="no spaces allowed")
    assert bad_name.value.code == "InvalidParameterValueException"
