"""Raw-protocol handler helpers: talk to the service with hand-written checkpoints (no SDK)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from replayflow._transport import current_transport


def op_id(n: int | str, parent: str | None = None) -> str:
    """The official SDKs' operation id: blake2b of ``n`` (or ``"<parent>-<n>"``), first 64 hex chars."""
    key = f"{parent}-{n}" if parent else str(n)
    return hashlib.blake2b(key.encode()).hexdigest()[:64]


class Session:
    """One invocation seen from the handler: the token, the merged operations, checkpoint/get-state calls."""

    def __init__(self, event: dict[str, Any]) -> None:
        self.event = event
        self.arn: str = event["DurableExecutionArn"]
        self.token: str | None = event["CheckpointToken"]
        transport = current_transport()
        assert transport is not None
        self.transport = transport
        self.ops: dict[str, dict[str, Any]] = {}
        self.pages = 1
        state = event["InitialExecutionState"]
        self.merge(state["Operations"])
        marker = state.get("NextMarker")
        while marker:
            page = self.transport.get_durable_execution_state(
                {
                    "DurableExecutionArn": self.arn,
                    "CheckpointToken": self.token or "",
                    "Marker": marker,
                    "MaxItems": 1000,
                }
            )
            self.pages += 1
            self.merge(page["Operations"])
            marker = page.get("NextMarker")
        self.responses: list[dict[str, Any]] = []

    def merge(self, operations: list[Any]) -> None:
        for op in operations:
            self.ops[op["Id"]] = op

    @property
    def input(self) -> str | None:
        execution = next(op for op in self.ops.values() if op["Type"] == "EXECUTION")
        return execution.get("ExecutionDetails", {}).get("InputPayload")

    def checkpoint(self, *updates: dict[str, Any], client_token: str | None = None) -> dict[str, Any]:
        request: dict[str, Any] = {
            "DurableExecutionArn": self.arn,
            "CheckpointToken": self.token,
            "Updates": list(updates),
        }
        if client_token is not None:
            request["ClientToken"] = client_token
        response: Any = self.transport.checkpoint_durable_execution(request)  # type: ignore[arg-type]
        self.token = response.get("CheckpointToken")
        self.merge(response["NewExecutionState"]["Operations"])
        self.responses.append(response)
        return response  # type: ignore[no-any-return]

    def status(self, oid: str) -> str | None:
        op = self.ops.get(oid)
        return None if op is None else op["Status"]


def step(oid: str, action: str = "START", **fields: Any) -> dict[str, Any]:
    return {"Id": oid, "Type": "STEP", "SubType": "Step", "Action": action, **fields}


def raw_handler(body: Callable[[Session], dict[str, Any]]) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """A durable handler from ``body(session) -> output``."""

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return body(Session(event))

    handler.__name__ = getattr(body, "__name__", "handler")
    return handler


def event_types(service: Any, arn: str) -> list[str]:
    return [e["EventType"] for e in service.get_durable_execution_history(DurableExecutionArn=arn)["Events"]]


def events(service: Any, arn: str) -> list[dict[str, Any]]:
    return service.get_durable_execution_history(DurableExecutionArn=arn, MaxItems=1000)["Events"]  # type: ignore[no-any-return]


def all_events(service: Any, arn: str) -> list[dict[str, Any]]:
    """Every event, following NextMarker."""
    out: list[dict[str, Any]] = []
    marker = None
    while True:
        kwargs = {"Marker": marker} if marker else {}
        page = service.get_durable_execution_history(DurableExecutionArn=arn, MaxItems=1000, **kwargs)
        out += page["Events"]
        marker = page.get("NextMarker")
        if not marker:
            return out
