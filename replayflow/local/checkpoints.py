"""The calls a handler makes: CheckpointDurableExecution and GetDurableExecutionState.

A checkpoint consumes the invocation's current token and answers the next one (none after an EXECUTION
update), with the operations changed since the handler last saw them (timers that fell due included). A
retried call with the same ClientToken and token gets the same answer again.
"""

from __future__ import annotations

import time

from replayflow._wire import (
    CheckpointRequest,
    CheckpointResponse,
    GetStateRequest,
    GetStateResponse,
    OperationDict,
)

from .engine import Engine, HandlerApi
from .errors import InvalidCheckpointTokenError, InvalidParameterValueError
from .events import data
from .paging import operations_page
from .records import Execution, LastCall
from .shapes import page_size, parse_marker
from .updates import apply_updates, validate_updates

__all__ = ["CheckpointApi"]


class CheckpointApi(HandlerApi):
    """The handler-facing API over an :class:`~.engine.Engine` (``latency``: seconds slept in every call)."""

    def __init__(self, engine: Engine, latency: float = 0.0) -> None:
        self._engine = engine
        self.latency = latency

    def checkpoint_durable_execution(self, request: CheckpointRequest) -> CheckpointResponse:
        """Apply ``request["Updates"]`` atomically; consumes the token and returns the next one.

        One function on purpose: it runs for every checkpoint (each call here costs about 0.5% of a step).
        """
        if self.latency:
            time.sleep(self.latency)
        engine = self._engine
        token = request.get("CheckpointToken")
        client_token = request.get("ClientToken")
        with engine.lock:
            engine.calls["CheckpointDurableExecution"] += 1
            ex = engine.executions.get(request.get("DurableExecutionArn", ""))
            if ex is None:
                raise InvalidCheckpointTokenError("no such durable execution")
            last = ex.tokens.last_call
            if client_token is not None and last is not None and last[:2] == (client_token, token):
                return last.response
            if ex.tokens.current is None or token != ex.tokens.current:
                raise InvalidCheckpointTokenError()
            engine.fire_due(engine.clock.now())  # so that a checkpoint (an empty one too) sees a wait that ended
            if ex.tokens.current is None:  # one of them was the execution's timeout
                raise InvalidCheckpointTokenError()
            updates = request.get("Updates")
            if updates:
                metered, written = validate_updates(ex, updates, engine.limits)
                self._meter(ex, metered, written)
                apply_updates(ex, updates, engine.now_ms(), engine)
                ex.progress = True
            # the operations the handler has not seen, and the next token (none after an EXECUTION update)
            changes = ex.changes
            operations: list[OperationDict]
            unseen = len(changes) - ex.seen
            if unseen == 1 or (unseen == 2 and changes[-1] == changes[-2]):  # one operation
                operations = [ex.ops[changes[-1]]]
            else:
                ops = ex.ops
                operations = [ops[op_id] for op_id in dict.fromkeys(changes[ex.seen :])]
            ex.seen = len(changes)
            response: CheckpointResponse
            if ex.completion is not None:
                ex.tokens.current = None
                response = {"NewExecutionState": {"Operations": operations}}
            else:
                response = {"CheckpointToken": ex.tokens.advance(), "NewExecutionState": {"Operations": operations}}
            # (tuple.__new__: a NamedTuple's own __new__ is a Python function, and this runs every checkpoint)
            ex.tokens.last_call = (
                tuple.__new__(LastCall, (client_token, token, response)) if client_token is not None else None
            )
            if engine.persist:
                engine.store.save(ex)
            return response

    def _meter(self, ex: Execution, operations: int, written: int) -> None:
        """Count a checkpoint's usage; over a quota, FAIL the execution and refuse the checkpoint."""
        limits = self._engine.limits
        problem = None
        if ex.operations + operations > limits.max_operations:
            problem = (
                f"The durable execution exceeded the quota of {limits.max_operations} durable operations per "
                f"execution ({ex.operations} used, this checkpoint adds {operations})."
            )
        elif ex.bytes_written + written > limits.max_bytes_written:
            problem = (
                f"The durable execution exceeded the quota of {limits.max_bytes_written} bytes written per "
                f"execution ({ex.bytes_written} written, this checkpoint adds {written})."
            )
        if problem is None:
            ex.operations += operations
            ex.bytes_written += written
            return
        ex.error = {"ErrorType": "ServiceQuotaExceededException", "ErrorMessage": problem}
        self._engine.terminate(ex, "FAILED", "ExecutionFailed", {"Error": data(ex.error)})
        raise InvalidParameterValueError(problem)

    def get_durable_execution_state(self, request: GetStateRequest) -> GetStateResponse:
        """One page of the execution's operations, in start order (does not consume the token)."""
        if self.latency:
            time.sleep(self.latency)
        engine = self._engine
        with engine.lock:
            engine.calls["GetDurableExecutionState"] += 1
            ex = engine.executions.get(request.get("DurableExecutionArn", ""))
            if ex is None:
                raise InvalidCheckpointTokenError("no such durable execution")
            if ex.tokens.current is None or request.get("CheckpointToken") != ex.tokens.current:
                raise InvalidCheckpointTokenError()
            start = parse_marker(request.get("Marker"))
            size = page_size(request.get("MaxItems"), engine.limits.page_size)
            operations, marker = operations_page(ex, start, size, engine.limits.page_bytes)
            response: GetStateResponse = {"Operations": operations}
            if marker:
                response["NextMarker"] = marker
            return response
