"""The boto3-shaped in-process client, latency and call counting, background drivers and outside threads."""

from __future__ import annotations

import datetime as _dt
import threading
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

import replayflow
from replayflow.local import LocalDurableService, LocalLambdaClient, VirtualClock

from .raw import Session, op_id, raw_handler, step


@replayflow.durable
def approval(input: Any, ctx: Any) -> Any:
    callback = yield ctx.create_callback(name="approve", timeout=3600)
    yield ctx.wait(seconds=10)
    return (yield callback.result())


def test_local_lambda_client_raises_client_errors() -> None:
    svc = LocalDurableService(clock=VirtualClock(autojump=False))
    svc.register("approval", approval)
    lam = LocalLambdaClient(svc)
    arn = lam.invoke(FunctionName="approval", InvocationType="Event", Payload=b"{}")["DurableExecutionArn"]
    svc.advance(0)
    history = lam.get_durable_execution_history(DurableExecutionArn=arn)["Events"]
    assert isinstance(history[0]["EventTimestamp"], _dt.datetime)
    callback_id = history[1]["CallbackStartedDetails"]["CallbackId"]
    lam.send_durable_execution_callback_success(CallbackId=callback_id, Result=b'"approved"')
    svc.advance(10)
    described = lam.get_durable_execution(DurableExecutionArn=arn)
    assert described["Result"] == '"\\"approved\\""'  # the raw callback text, returned as a JSON string
    with pytest.raises(ClientError) as error:
        lam.send_durable_execution_callback_success(CallbackId=callback_id, Result=b"again")
    assert error.value.response["Error"]["Code"] == "CallbackTimeoutException"
    assert error.value.operation_name == "SendDurableExecutionCallbackSuccess"
    with pytest.raises(ClientError) as stale:
        lam.checkpoint_durable_execution(DurableExecutionArn=arn, CheckpointToken="AAAA", Updates=[])
    assert stale.value.response["Error"]["Message"].startswith("Invalid checkpoint token")
    with pytest.raises(AttributeError):
        lam.delete_function  # noqa: B018


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


def test_background_drivers_and_a_callback_from_another_thread() -> None:
    svc = LocalDurableService(clock=VirtualClock(autojump_threshold=0.3))
    svc.register("approval", approval)
    svc.start(workers=2)
    try:
        arn = svc.start_execution("approval", "{}")
        deadline = time.monotonic() + 5
        callback_id = None
        while callback_id is None and time.monotonic() < deadline:
            events = svc.get_durable_execution_history(DurableExecutionArn=arn)["Events"]
            callback_id = next(
                (e["CallbackStartedDetails"]["CallbackId"] for e in events if e["EventType"] == "CallbackStarted"), None
            )
            time.sleep(0.01)
        assert callback_id is not None

        def answer() -> None:
            svc.send_durable_execution_callback_success(CallbackId=callback_id, Result=b'"from a thread"')

        threading.Thread(target=answer).start()
        result = svc.wait(arn, timeout=10)
        assert result.value == '"from a thread"'
        assert svc.driving
    finally:
        svc.close()
    assert not svc.driving


def test_at_most_one_invocation_at_a_time() -> None:
    svc = LocalDurableService()
    running = {"now": 0, "max": 0}
    lock = threading.Lock()

    @replayflow.durable
    def wf(input: Any, ctx: Any) -> Any:
        with lock:
            running["now"] += 1
            running["max"] = max(running["max"], running["now"])
        time.sleep(0.005)
        with lock:
            running["now"] -= 1
        for _ in range(3):
            yield ctx.wait(seconds=1)
        return "ok"

    svc.register("wf", wf)
    svc.start(workers=4)
    try:
        arn = svc.start_execution("wf", "{}")
        assert svc.wait(arn, timeout=10).value == "ok"
    finally:
        svc.close()
    assert running["max"] == 1


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
