"""The Lambda handler: events, state pages, tokens, outputs, limits and service errors."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

import replayflow
from replayflow import InvalidEventError, ServiceError

from .wire import ARN, EXECUTION_ID, Recorder, event, execution, invoke, op, op_id, step


@replayflow.durable
def echo(value, ctx):
    first = yield ctx.step(lambda: value, name="first")
    return first


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"order": 1}, "DurableExecutionArn is missing"),
        ("hello", "got str"),
        (
            {"DurableExecutionArn": ARN, "CheckpointToken": 5, "InitialExecutionState": {"Operations": []}},
            "CheckpointToken must be a str",
        ),
        (
            {"DurableExecutionArn": ARN, "CheckpointToken": "t", "InitialExecutionState": {"Operations": "x"}},
            "Operations must be a list",
        ),
        (
            {"DurableExecutionArn": ARN, "CheckpointToken": "t", "InitialExecutionState": {"Operations": [{"Id": 1}]}},
            "Operations[0] is not an operation",
        ),
    ],
)
def test_malformed_events_get_a_clear_typed_error(bad, message):
    with pytest.raises(InvalidEventError) as info:
        echo(bad, None)
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


def test_an_event_without_the_execution_operation_is_rejected():
    evt = event()
    evt["InitialExecutionState"]["Operations"] = [step(1)]
    with pytest.raises(InvalidEventError, match="no EXECUTION operation"):
        invoke(echo, evt)


def test_input_that_is_not_json_fails_the_execution_clearly():
    evt = event()
    evt["InitialExecutionState"]["Operations"][0]["ExecutionDetails"] = {"InputPayload": "{not json"}
    out = invoke(echo, evt)
    assert out["Status"] == "FAILED"
    assert "input is not valid JSON" in out["Error"]["ErrorMessage"]


def test_the_input_comes_from_the_execution_operation():
    @replayflow.durable
    def wf(order, ctx):
        return order

    assert invoke(wf, event(input={"id": 1}))["Result"] == '{"id":1}'
    assert invoke(wf, event())["Result"] == "null"


def test_all_state_pages_are_loaded_with_the_token_before_the_workflow_runs():
    pages = {
        "m1": {"Operations": [step(1, name="first", result="from page 1")], "NextMarker": "m2"},
        "m2": {"Operations": [op(2, "WAIT", "SUCCEEDED")], "NextMarker": ""},
    }
    calls: list[dict[str, Any]] = []

    def handle(operation: str, request: dict[str, Any]) -> dict[str, Any]:
        calls.append(request)
        assert operation == "GetDurableExecutionState"
        return pages[request["Marker"]]

    @replayflow.durable
    def wf(_, ctx):
        value = yield ctx.step(lambda: pytest.fail("replayed"), name="first")
        yield ctx.wait(seconds=3)
        return value

    with replayflow.use_transport(replayflow.MockTransport(handle)):
        out = wf(event(marker="m1", token="tok"), None)
    assert out == {"Status": "SUCCEEDED", "Result": '"from page 1"'}
    assert [(c["Marker"], c["CheckpointToken"], c["MaxItems"]) for c in calls] == [
        ("m1", "tok", 1000),
        ("m2", "tok", 1000),
    ]
    assert calls[0]["DurableExecutionArn"] == ARN


def test_checkpoint_tokens_are_threaded_through_every_call():
    rec = Recorder(token="token-0")

    @replayflow.durable
    def wf(_, ctx):
        for i in range(3):
            yield ctx.step(lambda i=i: i, name=f"s{i}")

    invoke(wf, event(token="token-0"), rec)
    tokens = [request["CheckpointToken"] for _, request in rec.transport.requests]
    assert tokens == ["token-0", "token-1", "token-2"]
    client_tokens = [request["ClientToken"] for _, request in rec.transport.requests]
    assert len(set(client_tokens)) == 3


def test_a_response_without_token_means_revoked_and_the_invocation_returns_pending():
    ran = []

    def handle(operation: str, request: dict[str, Any]) -> dict[str, Any]:
        return {"NewExecutionState": {"Operations": []}}  # no CheckpointToken

    @replayflow.durable
    def wf(_, ctx):
        yield ctx.step(lambda: ran.append("a"), name="a")
        yield ctx.step(lambda: ran.append("b"), name="b")  # flushing a's result hits the revoked token
        return "finished"

    with replayflow.use_transport(replayflow.MockTransport(handle)):
        assert wf(event(), None) == {"Status": "PENDING"}
    assert ran == ["a"]


def test_operations_in_a_checkpoint_response_are_merged_and_paged():
    answered = op(1, "CALLBACK", "STARTED", CallbackDetails={"CallbackId": "Y2I="})

    def handle(operation: str, request: dict[str, Any]) -> dict[str, Any]:
        if operation == "CheckpointDurableExecution":
            return {"CheckpointToken": "t2", "NewExecutionState": {"Operations": [], "NextMarker": "p2"}}
        assert (request["Marker"], request["CheckpointToken"]) == ("p2", "t2")  # paged with the new token
        return {"Operations": [answered]}

    @replayflow.durable
    def wf(_, ctx):
        cb = yield ctx.create_callback()
        return cb.callback_id

    with replayflow.use_transport(replayflow.MockTransport(handle)):
        assert wf(event(), None) == {"Status": "SUCCEEDED", "Result": '"Y2I="'}


def test_a_result_over_the_response_limit_is_checkpointed_on_the_execution():
    @replayflow.durable
    def wf(_, ctx):
        return "x" * (6 * 1024 * 1024)

    rec = Recorder()
    out = invoke(wf, event(), rec)
    assert out == {"Status": "SUCCEEDED", "Result": ""}
    (update,) = rec.updates
    assert (update["Type"], update["Action"], update["Id"]) == ("EXECUTION", "SUCCEED", EXECUTION_ID)
    assert orjson.loads(update["Payload"]) == "x" * (6 * 1024 * 1024)


def test_a_result_that_cannot_be_serialized_fails_the_execution():
    @replayflow.durable
    def wf(_, ctx):
        return {1, 2, object()}

    out = invoke(wf, event())
    assert out["Status"] == "FAILED"
    assert out["Error"]["ErrorType"] == "replayflow.SerDesError"


def test_errors_are_trimmed_to_the_service_limit():
    @replayflow.durable
    def wf(_, ctx):
        raise ValueError("e" * 100_000)

    out = invoke(wf, event())
    assert len(orjson.dumps(out["Error"])) < 32 * 1024
    assert out["Error"]["ErrorMessage"].endswith("[truncated]")


def _failing(code: str, status: int | None, message: str = "no") -> Any:
    def handle(operation: str, request: dict[str, Any]) -> dict[str, Any]:
        raise ServiceError(code, message, status=status)

    return replayflow.MockTransport(handle)


@pytest.mark.parametrize(
    ("code", "status", "message"),
    [
        ("ThrottlingException", 429, "slow down"),
        ("ServiceException", 500, "oops"),
        ("InvalidParameterValueException", 400, "Invalid checkpoint token: stale"),
        ("NetworkError", None, "connection reset"),
    ],
)
def test_retryable_service_errors_are_raised_for_lambda_to_retry(code, status, message):
    with replayflow.use_transport(_failing(code, status, message)), pytest.raises(ServiceError) as info:
        echo(event(input=1), None)
    assert info.value.retryable


@pytest.mark.parametrize(("code", "status"), [("AccessDeniedException", 403), ("KMSAccessDeniedException", 400)])
def test_permanent_service_errors_fail_the_execution(code, status):
    with replayflow.use_transport(_failing(code, status)):
        out = echo(event(input=1), None)
    assert out["Status"] == "FAILED"
    assert code in out["Error"]["ErrorMessage"]


def test_an_explicit_transport_wins_over_the_installed_one():
    rec = Recorder()
    handler = replayflow.durable(echo.workflow, transport=rec.transport)
    other = Recorder()
    with replayflow.use_transport(other.transport):
        handler(event(input=5), None)
    assert rec.checkpoints and not other.checkpoints


def test_importing_replayflow_does_not_import_boto3():
    import subprocess
    import sys

    code = "import sys, replayflow; print('boto3' in sys.modules, 'botocore' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_execution_operation_is_found_by_the_arn_suffix():
    evt = event(input=1)
    ops = evt["InitialExecutionState"]["Operations"]
    decoy = execution("decoy")
    decoy["Id"] = "another"
    ops.insert(0, decoy)
    assert invoke(echo, evt)["Result"] == "1"
    assert op_id(1) != EXECUTION_ID
