"""Checkpoint token rules: consumed by each checkpoint, valid only during their invocation, idempotent retries."""

from __future__ import annotations

from typing import Any

import pytest

from replayflow import ServiceError
from replayflow.local import LocalDurableService

from .raw import Session, op_id, raw_handler, step


def test_each_checkpoint_consumes_the_token(service: LocalDurableService) -> None:
    seen: dict[str, Any] = {}

    def body(s: Session) -> dict[str, Any]:
        first = s.token
        s.checkpoint(step(op_id(1)))
        assert s.token and s.token != first
        with pytest.raises(ServiceError) as stale:
            s.transport.checkpoint_durable_execution(
                {"DurableExecutionArn": s.arn, "CheckpointToken": first or "", "Updates": []}
            )
        seen["stale"] = stale.value
        # GetDurableExecutionState does not consume the token
        s.transport.get_durable_execution_state({"DurableExecutionArn": s.arn, "CheckpointToken": s.token})
        s.checkpoint(step(op_id(1), "SUCCEED", Payload="1"))
        seen["token"] = s.token
        return {"Status": "SUCCEEDED", "Result": "1"}

    service.register("f", raw_handler(body))
    result = service.run("f")
    assert result.status == "SUCCEEDED"
    error = seen["stale"]
    assert error.code == "InvalidParameterValueException"
    assert error.message.startswith("Invalid checkpoint token")
    assert error.status == 400 and error.retryable
    # after the invocation ended its last token is dead too
    with pytest.raises(ServiceError, match="Invalid checkpoint token"):
        service.checkpoint_durable_execution(
            {"DurableExecutionArn": result.arn, "CheckpointToken": seen["token"], "Updates": []}
        )


def test_a_foreign_token_is_rejected(service: LocalDurableService) -> None:
    tokens: dict[str, str] = {}

    def body(s: Session) -> dict[str, Any]:
        tokens[s.arn] = s.token or ""
        other = [t for a, t in tokens.items() if a != s.arn]
        if other:
            with pytest.raises(ServiceError, match="Invalid checkpoint token"):
                s.transport.checkpoint_durable_execution(
                    {"DurableExecutionArn": s.arn, "CheckpointToken": other[0], "Updates": []}
                )
            with pytest.raises(ServiceError, match="Invalid checkpoint token"):
                s.transport.get_durable_execution_state({"DurableExecutionArn": s.arn, "CheckpointToken": other[0]})
        return {"Status": "SUCCEEDED"}

    service.register("f", raw_handler(body))
    assert service.run("f").succeeded
    assert service.run("f").succeeded
    assert len(tokens) == 2


def test_same_client_token_and_checkpoint_token_returns_the_cached_response(service: LocalDurableService) -> None:
    def body(s: Session) -> dict[str, Any]:
        token = s.token
        first = s.checkpoint(step(op_id(1)), step(op_id(1), "SUCCEED", Payload="7"), client_token="ct-1")
        again = s.transport.checkpoint_durable_execution(
            {
                "DurableExecutionArn": s.arn,
                "CheckpointToken": token or "",
                "ClientToken": "ct-1",
                "Updates": [step(op_id(1)), step(op_id(1), "SUCCEED", Payload="7")],
            }
        )
        assert again == first
        # a different client token with the consumed checkpoint token is a stale-token error
        with pytest.raises(ServiceError, match="Invalid checkpoint token"):
            s.transport.checkpoint_durable_execution(
                {"DurableExecutionArn": s.arn, "CheckpointToken": token or "", "ClientToken": "ct-2", "Updates": []}
            )
        return {"Status": "SUCCEEDED", "Result": "7"}

    service.register("f", raw_handler(body))
    result = service.run("f")
    assert result.succeeded
    types = [e["EventType"] for e in service.get_durable_execution_history(DurableExecutionArn=result.arn)["Events"]]
    assert types.count("StepSucceeded") == 1  # the retry was not applied twice


def test_execution_update_finishes_and_the_response_has_no_token(service: LocalDurableService) -> None:
    out: dict[str, Any] = {}

    def body(s: Session) -> dict[str, Any]:
        execution = s.arn.rsplit("/", 1)[1]
        response = s.checkpoint({"Id": execution, "Type": "EXECUTION", "Action": "SUCCEED", "Payload": '"big"'})
        out["response"] = response
        with pytest.raises(ServiceError, match="Invalid checkpoint token"):
            s.transport.checkpoint_durable_execution(
                {"DurableExecutionArn": s.arn, "CheckpointToken": s.token or "x", "Updates": []}
            )
        return {"Status": "SUCCEEDED", "Result": ""}

    service.register("f", raw_handler(body))
    result = service.run("f")
    assert "CheckpointToken" not in out["response"]
    assert result.status == "SUCCEEDED" and result.result == '"big"'
    types = [e["EventType"] for e in service.get_durable_execution_history(DurableExecutionArn=result.arn)["Events"]]
    assert types == ["ExecutionStarted", "InvocationCompleted", "ExecutionSucceeded"]


def test_unknown_execution_is_rejected(service: LocalDurableService) -> None:
    with pytest.raises(ServiceError) as error:
        service.checkpoint_durable_execution({"DurableExecutionArn": "arn:nope", "CheckpointToken": "x", "Updates": []})
    assert error.value.code == "InvalidParameterValueException"
    with pytest.raises(ServiceError) as missing:
        service.get_durable_execution(DurableExecutionArn="arn:nope")
    assert missing.value.code == "ResourceNotFoundException" and missing.value.status == 404
