"""Hand-built wire histories for driving the interpreter in unit tests.

Operations are the service's JSON dicts; ids come from the same formula the service sees from every SDK.
"""

from __future__ import annotations

import itertools
from typing import Any

import orjson

import replayflow
from replayflow._ids import operation_id

ARN = "arn:aws:lambda:us-east-1:123456789012:function:orders:$LATEST/durable-execution/run-1/exec-1"
EXECUTION_ID = "exec-1"


def op_id(n: int, parent: str | None = None) -> str:
    return operation_id(parent, n)


def execution(input: Any = None) -> dict[str, Any]:
    details = {"InputPayload": orjson.dumps(input).decode()} if input is not None else {}
    return {
        "Id": EXECUTION_ID,
        "Type": "EXECUTION",
        "Status": "STARTED",
        "StartTimestamp": 1_700_000_000_000,
        "ExecutionDetails": details,
    }


def op(
    n: int,
    type: str,
    status: str,
    *,
    name: str | None = None,
    sub_type: str | None = None,
    parent: str | None = None,
    id: str | None = None,
    **details: Any,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "Id": id or op_id(n, parent),
        "Type": type,
        "Status": status,
        "StartTimestamp": 1_700_000_000_000 + n,
        "SubType": sub_type
        or {
            "STEP": "Step",
            "WAIT": "Wait",
            "CALLBACK": "Callback",
            "CONTEXT": "RunInChildContext",
            "CHAINED_INVOKE": "ChainedInvoke",
        }[type],
    }
    if name is not None:
        record["Name"] = name
    if parent is not None:
        record["ParentId"] = parent
    record.update(details)
    return record


def step(
    n: int,
    status: str = "SUCCEEDED",
    *,
    result: Any = ...,
    attempt: int | None = None,
    error: dict[str, Any] | None = None,
    name: str | None = None,
    parent: str | None = None,
    raw: str | None = None,
    **kw: Any,
) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if raw is not None:
        details["Result"] = raw
    elif result is not ...:
        details["Result"] = orjson.dumps(result).decode()
    if attempt is not None:
        details["Attempt"] = attempt
    elif status in ("SUCCEEDED", "FAILED"):
        details["Attempt"] = 1
    if error is not None:
        details["Error"] = error
    return op(n, "STEP", status, name=name, parent=parent, StepDetails=details, **kw)


def event(*ops: dict[str, Any], input: Any = None, token: str = "token-0", marker: str = "") -> dict[str, Any]:
    return {
        "DurableExecutionArn": ARN,
        "CheckpointToken": token,
        "InitialExecutionState": {"Operations": [execution(input), *ops], "NextMarker": marker},
    }


class Recorder:
    """A MockTransport handler answering like the service for the calls a test does not care about.

    Tokens are consumed and renewed on every checkpoint (a stale token raises the service's error);
    CALLBACK START gets a callback id; every call is recorded.
    """

    def __init__(self, token: str = "token-0") -> None:
        self.token = token
        self.counter = itertools.count(1)
        self.checkpoints: list[list[dict[str, Any]]] = []
        self.transport = replayflow.MockTransport(self.handle)

    def handle(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        if request["CheckpointToken"] != self.token:
            raise replayflow.ServiceError("InvalidParameterValueException", "Invalid checkpoint token", status=400)
        if operation == "GetDurableExecutionState":
            return {"Operations": []}
        self.checkpoints.append(request["Updates"])
        self.token = f"token-{next(self.counter)}"
        changed = []
        for update in request["Updates"]:
            if update["Type"] == "CALLBACK" and update["Action"] == "START":
                changed.append(
                    op(
                        0,
                        "CALLBACK",
                        "STARTED",
                        id=update["Id"],
                        name=update.get("Name"),
                        parent=update.get("ParentId"),
                        CallbackDetails={"CallbackId": "Y2Itb2s="},
                    )
                )
        return {"CheckpointToken": self.token, "NewExecutionState": {"Operations": changed}}

    @property
    def updates(self) -> list[dict[str, Any]]:
        return [u for batch in self.checkpoints for u in batch]

    def actions(self) -> list[tuple[str, str, str | None]]:
        return [(u["Type"], u["Action"], u.get("Name")) for u in self.updates]


class LambdaContext:
    """What the Lambda runtime passes: a request id and a deadline far ahead (it arms the interpreter's
    shutdown alarm at new work)."""

    aws_request_id = "request-1"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def invoke(handler: Any, evt: dict[str, Any], recorder: Recorder | None = None, context: Any = None) -> dict[str, Any]:
    recorder = recorder or Recorder(evt["CheckpointToken"])
    with replayflow.use_transport(recorder.transport):
        return handler(evt, context)  # type: ignore[no-any-return]
