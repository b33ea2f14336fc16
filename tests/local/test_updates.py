"""The operation state machine and batch rules, with the service's error messages; batches are atomic."""

from __future__ import annotations

from typing import Any

import pytest

from replayflow import ServiceError
from replayflow.local import Limits, LocalDurableService

from .raw import Session, op_id, raw_handler, step

A, B, C = op_id(1), op_id(2), op_id(3)
CTX = {"Id": C, "Type": "CONTEXT", "SubType": "RunInChildContext", "Action": "START"}


def run_batches(service: LocalDurableService, *batches: list[dict[str, Any]]) -> tuple[ServiceError | None, Session]:
    """Checkpoint ``batches`` in one invocation; the error of the first failing one (and the session)."""
    box: dict[str, Any] = {"error": None}

    def body(s: Session) -> dict[str, Any]:
        box["session"] = s
        for batch in batches:
            try:
                s.checkpoint(*batch)
            except ServiceError as error:
                box["error"] = error
                break
        return {"Status": "SUCCEEDED"}

    service.register("f", raw_handler(body))
    service.run("f")
    return box["error"], box["session"]


CASES = [
    ("step start twice", [[step(A)], [step(A)]], "Invalid current STEP state to start."),
    (
        "step succeed after succeed",
        [[step(A), step(A, "SUCCEED", Payload="1")], [step(A, "SUCCEED")]],
        "Invalid current STEP state to close.",
    ),
    (
        "retry without options",
        [[step(A), step(A, "RETRY", Error={"ErrorType": "E"})]],
        "Invalid StepOptions for the given action.",
    ),
    (
        "retry after fail",
        [[step(A), step(A, "FAIL")], [step(A, "RETRY", StepOptions={"NextAttemptDelaySeconds": 1})]],
        "Invalid current STEP state to re-attempt.",
    ),
    (
        "retry with payload and error",
        [[step(A), step(A, "RETRY", Payload="1", Error={}, StepOptions={"NextAttemptDelaySeconds": 1})]],
        "Cannot provide both error and payload to RETRY a STEP.",
    ),
    ("fail with payload", [[step(A), step(A, "FAIL", Payload="x")]], "Cannot provide a Payload for FAIL action."),
    (
        "succeed with error",
        [[step(A), step(A, "SUCCEED", Error={"ErrorType": "E"})]],
        "Cannot provide an Error for SUCCEED action.",
    ),
    ("wait cancel", [[{"Id": A, "Type": "WAIT", "Action": "SUCCEED"}]], "Invalid action for the given operation type."),
    (
        "wait without options",
        [[{"Id": A, "Type": "WAIT", "Action": "START"}]],
        "Invalid WaitOptions for the given action.",
    ),
    (
        "wait too long",
        [[{"Id": A, "Type": "WAIT", "Action": "START", "WaitOptions": {"WaitSeconds": 31_622_401}}]],
        "WaitOptions.WaitSeconds must be an integer between 1 and 31622400.",
    ),
    (
        "cancel unknown wait",
        [[{"Id": A, "Type": "WAIT", "Action": "CANCEL"}]],
        "Cannot cancel a WAIT that does not exist or has already completed.",
    ),
    (
        "callback succeed",
        [[{"Id": A, "Type": "CALLBACK", "Action": "SUCCEED"}]],
        "Invalid action for the given operation type.",
    ),
    (
        "callback twice",
        [[{"Id": A, "Type": "CALLBACK", "Action": "START"}], [{"Id": A, "Type": "CALLBACK", "Action": "START"}]],
        "Cannot start a CALLBACK that already exist.",
    ),
    (
        "invoke without options",
        [[{"Id": A, "Type": "CHAINED_INVOKE", "Action": "START"}]],
        "Update for CHAINED_INVOKE operation requires ChainedInvokeOptions.",
    ),
    ("context twice", [[CTX], [CTX]], "Cannot start a CONTEXT that already exist."),
    (
        "context close twice",
        [[CTX, {**CTX, "Action": "SUCCEED"}], [{**CTX, "Action": "FAIL"}]],
        "Invalid current CONTEXT state to close.",
    ),
    (
        "type changes",
        [
            [step(A), step(A, "SUCCEED")],
            [{"Id": A, "Type": "WAIT", "Action": "START", "WaitOptions": {"WaitSeconds": 1}}],
        ],
        "Inconsistent operation type.",
    ),
    ("subtype changes", [[step(A)], [step(A, "SUCCEED", SubType="Other")]], "Inconsistent operation subtype."),
    ("name changes", [[step(A, Name="a")], [step(A, "SUCCEED", Name="b")]], "Inconsistent operation name."),
    ("parent changes", [[CTX, step(A, ParentId=C)], [step(A, "SUCCEED", ParentId=B)]], "Invalid parent operation id."),
    (
        "parent id changes to another context",
        [[CTX, {**CTX, "Id": B}, step(A, ParentId=C)], [step(A, "SUCCEED", ParentId=B)]],
        "Inconsistent parent operation id.",
    ),
    ("parent unknown", [[step(A, ParentId=B)]], "Invalid parent operation id."),
    ("parent is not a context", [[step(B)], [step(A, ParentId=B)]], "Invalid parent operation id."),
    ("parent started later in batch", [[step(A, ParentId=C), CTX]], "Invalid parent operation id."),
    ("same id twice", [[step(A), step(A)]], "Cannot checkpoint multiple operations with the same ID."),
    (
        "same id succeed twice",
        [[step(A), step(A, "SUCCEED"), step(A, "FAIL")]],
        "Cannot checkpoint multiple operations with the same ID.",
    ),
    (
        "wait id twice",
        [
            [
                {"Id": A, "Type": "WAIT", "Action": "START", "WaitOptions": {"WaitSeconds": 1}},
                {"Id": A, "Type": "WAIT", "Action": "CANCEL"},
            ]
        ],
        "Cannot checkpoint multiple operations with the same ID.",
    ),
    (
        "execution not last",
        [[{"Id": "x", "Type": "EXECUTION", "Action": "SUCCEED"}, step(A)]],
        "EXECUTION checkpoint must be the last update.",
    ),
    (
        "two execution updates",
        [[{"Id": "x", "Type": "EXECUTION", "Action": "SUCCEED"}, {"Id": "x", "Type": "EXECUTION", "Action": "FAIL"}]],
        "EXECUTION checkpoint must be the last update.",
    ),
    (
        "execution start",
        [[{"Id": "x", "Type": "EXECUTION", "Action": "START"}]],
        "Invalid action for the given operation type.",
    ),
    ("bad id", [[step("has space")]], "Id must be 1-64 characters of [a-zA-Z0-9-_]."),
    ("bad type", [[{"Id": A, "Type": "TIMER", "Action": "START"}]], "Unknown operation type."),
    ("bad action", [[step(A, "PAUSE")]], "Unknown operation action."),
    ("bad subtype", [[step(A, SubType="x" * 33)]], "SubType must be 1-32 characters of [a-zA-Z0-9-_]."),
    ("bad name", [[step(A, Name="tab\t")]], "Name must be 1-256 printable ASCII characters."),
]


@pytest.mark.parametrize(("batches", "message"), [(b, m) for _, b, m in CASES], ids=[c[0] for c in CASES])
def test_invalid_updates_are_rejected(service: LocalDurableService, batches: Any, message: str) -> None:
    error, _ = run_batches(service, *batches)
    assert error is not None, "the batch was accepted"
    assert error.code == "InvalidParameterValueException"
    assert error.message == message
    assert not error.retryable


def test_a_rejected_batch_applies_nothing(service: LocalDurableService) -> None:
    error, session = run_batches(service, [step(A), step(A, "SUCCEED", Payload="1"), step(B), step(B)])
    assert error is not None
    arn = session.arn
    types = [e["EventType"] for e in service.get_durable_execution_history(DurableExecutionArn=arn)["Events"]]
    assert "StepStarted" not in types


def test_the_token_is_not_consumed_by_a_rejected_batch(service: LocalDurableService) -> None:

    def body(s: Session) -> dict[str, Any]:
        token = s.token
        with pytest.raises(ServiceError):
            s.checkpoint(step(A), step(A))
        assert s.token == token
        s.checkpoint(step(A), step(A, "SUCCEED", Payload="1"))
        return {"Status": "SUCCEEDED"}

    service.register("g", raw_handler(body))
    assert service.run("g").succeeded


def test_legal_transitions(service: LocalDurableService) -> None:
    def body(s: Session) -> dict[str, Any]:
        # START then SUCCEED of one step in one batch; a new step closed without START; contexts with children
        s.checkpoint(step(A), step(A, "SUCCEED", Payload="1"), step(B, "FAIL", Error={"ErrorType": "E"}))
        s.checkpoint(
            CTX,
            step(op_id(1, C), ParentId=C),
            step(op_id(1, C), "SUCCEED", ParentId=C, Payload="2"),
            {**CTX, "Action": "SUCCEED", "Payload": "3", "ContextOptions": {"ReplayChildren": False}},
        )
        wait = {"Id": op_id(4), "Type": "WAIT", "SubType": "Wait", "Action": "START", "WaitOptions": {"WaitSeconds": 5}}
        s.checkpoint(wait)
        response = s.checkpoint({**wait, "Action": "CANCEL"})
        assert response["NewExecutionState"]["Operations"][0]["Status"] == "CANCELLED"
        assert s.status(A) == "SUCCEEDED" and s.status(B) == "FAILED" and s.status(C) == "SUCCEEDED"
        assert s.ops[A]["StepDetails"] == {"Attempt": 1, "Result": "1"}
        assert s.ops[C]["ContextDetails"] == {"ReplayChildren": False, "Result": "3"}
        return {"Status": "SUCCEEDED"}

    service.register("f", raw_handler(body))
    result = service.run("f")
    assert result.succeeded
    types = [e["EventType"] for e in service.get_durable_execution_history(DurableExecutionArn=result.arn)["Events"]]
    assert types == [
        "ExecutionStarted",
        "StepStarted",
        "StepSucceeded",
        "StepFailed",
        "ContextStarted",
        "StepStarted",
        "StepSucceeded",
        "ContextSucceeded",
        "WaitStarted",
        "WaitCancelled",
        "InvocationCompleted",
        "ExecutionSucceeded",
    ]


def test_checkpoint_response_carries_what_changed(service: LocalDurableService) -> None:
    def body(s: Session) -> dict[str, Any]:
        r = s.checkpoint({"Id": A, "Type": "CALLBACK", "SubType": "Callback", "Action": "START"})
        (op,) = r["NewExecutionState"]["Operations"]
        assert op["Status"] == "STARTED" and op["CallbackDetails"]["CallbackId"]
        r = s.checkpoint({"Id": B, "Type": "WAIT", "Action": "START", "WaitOptions": {"WaitSeconds": 10}})
        (op,) = r["NewExecutionState"]["Operations"]
        assert op["WaitDetails"]["ScheduledEndTimestamp"] == op["StartTimestamp"] + 10_000
        assert isinstance(op["StartTimestamp"], int)
        r = s.checkpoint(
            step(C), step(C, "RETRY", Error={"ErrorType": "E"}, StepOptions={"NextAttemptDelaySeconds": 3})
        )
        (op,) = r["NewExecutionState"]["Operations"]
        assert op["Status"] == "PENDING"
        assert op["StepDetails"]["Attempt"] == 1
        assert op["StepDetails"]["NextAttemptTimestamp"] == op["StartTimestamp"] + 3000
        r = s.checkpoint()
        assert r["NewExecutionState"]["Operations"] == []
        return {"Status": "SUCCEEDED"}

    service.register("f", raw_handler(body))
    assert service.run("f").succeeded


def test_limits(service: LocalDurableService) -> None:
    limits = Limits()
    checks = {
        "too many": [step(op_id(i), "SUCCEED") for i in range(limits.max_updates + 1)],
        "payload": [step(A, "SUCCEED", Payload="x" * (limits.operation_payload_bytes + 1))],
        "error": [step(A, "FAIL", Error={"ErrorMessage": "e" * limits.error_bytes})],
        "invoke input": [
            {
                "Id": A,
                "Type": "CHAINED_INVOKE",
                "Action": "START",
                "ChainedInvokeOptions": {"FunctionName": "f"},
                "Payload": "x" * (limits.chained_invoke_payload_bytes + 1),
            }
        ],
        "request": [step(op_id(i), "SUCCEED", Payload="é" * 100_000) for i in range(5)],
    }
    messages = {}

    def body(s: Session) -> dict[str, Any]:
        for key, batch in checks.items():
            with pytest.raises(ServiceError) as error:
                s.checkpoint(*batch)
            assert error.value.code == "InvalidParameterValueException"
            messages[key] = error.value.message
        s.checkpoint(step(A, "SUCCEED", Payload="x" * limits.operation_payload_bytes))  # exactly at the limit
        return {"Status": "SUCCEEDED"}

    service.register("f", raw_handler(body))
    assert service.run("f").succeeded
    assert "more than 250 updates" in messages["too many"]
    assert "at most 262144 bytes" in messages["payload"]
    assert messages["error"] == "Error object size must be less than 32768 bytes."
    assert "chained invoke input" in messages["invoke input"]
    assert "at most 768000 bytes are allowed" in messages["request"]


def test_payload_limit_is_configurable() -> None:
    svc = LocalDurableService(limits=Limits(operation_payload_bytes=10))

    def body(s: Session) -> dict[str, Any]:
        with pytest.raises(ServiceError, match="at most 10 bytes"):
            s.checkpoint(step(A, "SUCCEED", Payload='"' + "x" * 10 + '"'))
        return {"Status": "SUCCEEDED"}

    svc.register("f", raw_handler(body))
    assert svc.run("f").succeeded
