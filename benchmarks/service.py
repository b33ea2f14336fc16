"""The stand-in durable service both SDKs talk to, with optional per-call latency and call counting.

:class:`StubService` is a replayflow ``Transport`` (boto3-shaped dicts). It serves the workload's state
pages (parsing the page's JSON bytes at call time, as a client parses an HTTP response), threads checkpoint
tokens strictly (a stale token is an error), folds every update's (Id, Action) into a digest (so checking
what was sent costs no memory per update), and answers each
checkpoint with the next token and an empty ``NewExecutionState`` (the service returns only operations the
handler has not seen). :class:`OfficialClient` adapts it to the official SDK's ``DurableServiceClient``
with the same conversions the official ``LambdaClient`` makes (``OperationUpdate.to_dict`` out,
``CheckpointOutput.from_dict`` / ``StateOutput.from_dict`` in).
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import orjson

from replayflow.local.official_sdk import TransportServiceClient

__all__ = ["OfficialClient", "StubService", "expected_digest"]


class StubService:
    """One execution's service side for one invocation; see the module docstring."""

    def __init__(self, pages: dict[str, bytes] | None = None, *, latency: float = 0.0, token: str = "token-0") -> None:
        self.pages = pages or {}
        self.latency = latency
        self.token = token
        self._seq = 0
        self.checkpoint_calls = 0
        self.state_calls = 0
        #: every update's (Id, Action), folded into one digest so that checking costs no memory per update
        self.digest = hashlib.blake2b()
        self.update_count = 0
        self.last_update: dict[str, Any] | None = None

    # -- the replayflow Transport protocol -------------------------------------------------------------

    def checkpoint_durable_execution(self, request: Any) -> Any:
        if self.latency:
            time.sleep(self.latency)
        if request["CheckpointToken"] != self.token:
            raise AssertionError(f"stale checkpoint token {request['CheckpointToken']!r} (current {self.token!r})")
        updates = request.get("Updates") or []
        self.checkpoint_calls += 1
        if updates:
            fold = self.digest.update
            for update in updates:
                fold(f"{update['Id']}:{update['Action']};".encode())
            self.update_count += len(updates)
            self.last_update = updates[-1]
        self._seq += 1
        self.token = f"token-{self._seq}"
        return {"CheckpointToken": self.token, "NewExecutionState": {"Operations": []}}

    def get_durable_execution_state(self, request: Any) -> Any:
        if self.latency:
            time.sleep(self.latency)
        if request["CheckpointToken"] != self.token:
            raise AssertionError("GetDurableExecutionState with a stale token")
        self.state_calls += 1
        return orjson.loads(self.pages[request["Marker"]])


#: The official SDK's ``DurableServiceClient`` over a :class:`StubService` (or any replayflow transport): the
#: one ``replayflow serve`` and the local service use for official-SDK handlers.
OfficialClient = TransportServiceClient


def expected_digest(pairs: Any) -> str:
    """The digest :class:`StubService` ends with after receiving ``pairs`` of (Id, Action), in order."""
    digest = hashlib.blake2b()
    for op_id, action in pairs:
        digest.update(f"{op_id}:{action};".encode())
    return digest.hexdigest()
