"""The engine of the local durable service: executions, invocations, checkpoints, timers, resuming.

:class:`Engine` holds the state (executions, their operations and histories, timers, the ready queue) and
implements what the service does on its own: starting executions and child executions, invoking
handlers and acting on their outputs, CheckpointDurableExecution / GetDurableExecutionState, firing
timers, completing chained invokes, and resuming from a persistent store. The public API
(:class:`~replayflow.local.LocalDurableService`) adds driving, callbacks and the read APIs on top.
All methods here run with ``self._lock`` held unless they say otherwise.
"""

from __future__ import annotations

import collections
import datetime as _dt
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from replayflow._wire import CheckpointRequest, CheckpointResponse, GetStateRequest, GetStateResponse

from . import naming
from .clock import Clock, VirtualClock
from .context import LambdaContext
from .errors import (
    execution_already_started,
    invalid_parameter,
    invalid_token,
    not_found,
)
from .events import data, op_event, plain_event
from .invokers import InProcessInvoker, InvocationOutcome, Invoker
from .limits import Limits
from .records import Execution, Function, Invocation, InvocationRetry
from .shapes import operation_bytes, page_size, parse_marker
from .store import Store, open_store
from .timers import Timer, Timers
from .updates import apply_updates, validate_updates
from .usage import Prices

__all__ = ["Engine", "LocalTransport", "datetime_from_ms"]

RUNNING = "RUNNING"
TERMINAL_OP = frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT", "STOPPED"})
TERMINAL_EXECUTION = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "STOPPED"})
_CHAINED_EVENT = {
    "SUCCEEDED": "ChainedInvokeSucceeded",
    "FAILED": "ChainedInvokeFailed",
    "TIMED_OUT": "ChainedInvokeTimedOut",
    "STOPPED": "ChainedInvokeStopped",
}


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def datetime_from_ms(ms: int) -> _dt.datetime:
    """Epoch milliseconds as an aware UTC ``datetime`` (boto3's timestamp type)."""
    return _dt.datetime.fromtimestamp(ms / 1000, tz=_dt.UTC)


class LocalTransport:
    """The :class:`replayflow.Transport` a handler invoked by the local service checkpoints through."""

    __slots__ = ("service",)

    def __init__(self, service: Engine) -> None:
        self.service = service

    def checkpoint_durable_execution(self, request: CheckpointRequest) -> CheckpointResponse:
        return self.service.checkpoint_durable_execution(request)

    def get_durable_execution_state(self, request: GetStateRequest) -> GetStateResponse:
        return self.service.get_durable_execution_state(request)


class Engine:
    """The service's state and its own behaviour (see the module docstring)."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        store: Store | str | Any = None,
        limits: Limits | None = None,
        invoker: Invoker | None = None,
        invocation_retry: InvocationRetry | None = None,
        region: str = naming.DEFAULT_REGION,
        account: str = naming.DEFAULT_ACCOUNT,
        latency: float = 0.0,
        execution_timeout: int = 86_400,
        function_timeout: float = 900.0,
        prices: Prices | None = None,
        read_only: bool = False,
    ) -> None:
        self.clock: Clock = clock if clock is not None else VirtualClock()
        self.limits = limits or Limits()
        self.prices = prices or Prices()
        self.invoker: Invoker = invoker or InProcessInvoker()
        self.invocation_retry = invocation_retry or InvocationRetry()
        self.region = region
        self.account = account
        self.latency = latency
        self.execution_timeout = execution_timeout
        self.function_timeout = function_timeout
        #: API calls made to this service, by operation name (``"CheckpointDurableExecution"``...).
        self.calls: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._functions: dict[str, Function] = {}
        self._executions: dict[str, Execution] = {}
        self._by_function: dict[str, list[Execution]] = {}
        self._by_name: dict[tuple[str, str], Execution] = {}
        self._callbacks: dict[str, tuple[str, str]] = {}
        #: What to do once a function is registered (executions resumed from a store before that).
        self._on_register: dict[str, list[Callable[[], None]]] = {}
        self._timers = Timers()
        self._ready: collections.deque[Callable[[], None]] = collections.deque()
        self._busy = 0
        self._generation = 0
        self._closing = False
        self._threads: list[threading.Thread] = []
        self._store = open_store(store, read_only=read_only)
        self._persist = self._store.durable
        #: Opened to read a store: executions are loaded as they are, nothing is resumed or written.
        self.read_only = read_only
        with self._lock:
            self._resume()

    def _function(self, name: str) -> Function:
        fn = self._functions.get(name)
        if fn is None:
            raise not_found(f"Function not found: {naming.function_arn(name, self.region, self.account)}")
        return fn

    def _execution(self, arn: str) -> Execution:
        ex = self._executions.get(arn)
        if ex is None:
            raise not_found(f"Durable execution not found: {arn}")
        return ex

    def _now_ms(self) -> int:
        return _ms(self.clock.now())

    def _create_execution(
        self,
        fn: Function,
        payload: str | None,
        name: str | None,
        tenant_id: str | None,
        parent: tuple[str, str] | None,
    ) -> Execution:
        if name is not None:
            if not naming.valid_execution_name(name):
                raise invalid_parameter("DurableExecutionName must be 1-64 characters of [a-zA-Z0-9-_].")
            existing = self._by_name.get((fn.name, name))
            if existing is not None:
                if existing.input_payload == payload:
                    return existing
                raise execution_already_started(
                    f"A durable execution named {name} already exists for function {fn.name} with a different payload."
                )
        else:
            name = naming.new_execution_name()
        execution_id = naming.new_execution_id()
        arn = naming.execution_arn(fn.name, name, execution_id, self.region, self.account)
        now = self._now_ms()
        ex = Execution(
            arn=arn,
            function_name=fn.name,
            name=name,
            id=execution_id,
            region=self.region,
            account=self.account,
            input_payload=payload,
            start_ms=now,
            timeout=fn.execution_timeout,
            tenant_id=tenant_id,
            parent=parent,
        )
        if payload:
            ex.bytes_written = len(payload.encode())
        self._index(ex)
        op: dict[str, Any] = {
            "Id": execution_id,
            "Name": name,
            "Type": "EXECUTION",
            "StartTimestamp": now,
            "Status": "STARTED",
            "ExecutionDetails": {} if payload is None else {"InputPayload": payload},
        }
        ex.add_op(op)
        op_event(ex.events, "ExecutionStarted", op, now, {"Input": data(payload), "ExecutionTimeout": ex.timeout})
        self._arm(ex, "execution_timeout", "", now + ex.timeout * 1000)
        self._wake(ex)
        self._save(ex)
        return ex

    def _index(self, ex: Execution) -> None:
        self._executions[ex.arn] = ex
        self._by_function.setdefault(ex.function_name, []).append(ex)
        self._by_name[(ex.function_name, ex.name)] = ex

    def _save(self, ex: Execution) -> None:
        if self._persist:
            self._store.save(ex)

    def _wake(self, ex: Execution) -> None:
        """Something completed: (re-)invoke, or once the running invocation ends."""
        if ex.status != RUNNING:
            return
        if ex.running:
            ex.wake = True
        elif not ex.queued:
            ex.queued = True
            self._enqueue(lambda: self._invoke(ex))

    def _terminate(self, ex: Execution, status: str, event_type: str, details: dict[str, Any]) -> None:
        """End execution ``ex`` (SUCCEEDED/FAILED/TIMED_OUT/STOPPED) and tell a waiting parent."""
        now = self._now_ms()
        if ex.invocation is not None:  # closed early (stopped, timed out): it still gets its event
            self._invocation_completed(ex, ex.invocation, now, None)
            ex.invocation = None
        ex.status = status
        ex.end_ms = now
        ex.token = None
        ex.queued = False
        ex.pending.clear()
        execution_op = ex.ops[ex.id]
        if execution_op["Status"] not in TERMINAL_OP:
            ex.set_op({**execution_op, "Status": status, "EndTimestamp": now})
        op_event(ex.events, event_type, execution_op, now, details)
        self._save(ex)
        if ex.parent is not None:
            self._child_ended(ex)
        self._generation += 1
        self._cond.notify_all()

    def _child_ended(self, child: Execution) -> None:
        assert child.parent is not None
        parent_arn, op_id = child.parent
        parent = self._executions.get(parent_arn)
        if parent is None:
            return
        result, error = child.result, child.error
        status = child.status
        limit = self.limits.chained_invoke_payload_bytes
        if status == "SUCCEEDED" and result is not None and len(result.encode()) > limit:
            status, result = "FAILED", None
            error = {
                "ErrorType": "InvalidParameterValueException",
                "ErrorMessage": "The invoked function's output exceeds the maximum size of "
                f"{self.limits.chained_invoke_payload_bytes} bytes.",
            }
        self._complete_chained(parent, op_id, status, result, error)

    def _complete_chained(
        self, ex: Execution, op_id: str, status: str, result: str | None, error: dict[str, Any] | None
    ) -> None:
        op = ex.ops.get(op_id)
        if ex.status != RUNNING or op is None or op["Status"] != "STARTED":
            return
        now = self._now_ms()
        details: dict[str, Any] = {}
        if status == "SUCCEEDED":
            if result is not None:
                details["Result"] = result
            event_details = {"Result": data(result)}
        else:
            error = error or {}
            details["Error"] = error
            event_details = {"Error": data(error)}
        new = {**op, "Status": status, "EndTimestamp": now, "ChainedInvokeDetails": details}
        ex.set_op(new)
        ex.pending.discard(op_id)
        ex.updated_ids.append(op_id)
        op_event(ex.events, _CHAINED_EVENT[status], new, now, event_details)
        self._wake(ex)
        self._save(ex)

    def _invoke(self, ex: Execution) -> None:
        """One invocation of ``ex``'s handler (a job run by a driver, outside the lock)."""
        with self._lock:
            ex.queued = False
            if ex.status != RUNNING or ex.running:
                return
            fn = self._functions.get(ex.function_name)
            if fn is None:  # resumed from a store before its function was registered: wait for it
                self._on_register.setdefault(ex.function_name, []).append(lambda: self._wake(ex))
                return
            ex.running = True
            ex.wake = False
            ex.progress = False
            now = self._now_ms()
            invocation = Invocation(naming.new_request_id(), now)
            ex.invocation = invocation
            ex.invocations += 1
            ex.nonce = naming.token_nonce()
            ex.token_seq = 0
            ex.token = ex.nonce + "0"
            ex.last_call = None
            ex.seen = len(ex.changes)
            operations, marker = self._page(ex, 0, self.limits.page_size)
            event = {
                "DurableExecutionArn": ex.arn,
                "CheckpointToken": ex.token,
                "InitialExecutionState": {"Operations": operations, "NextMarker": marker or ""},
                "UpdatedOperationIds": ex.updated_ids,
            }
            ex.updated_ids = []
            self._save(ex)
            context = LambdaContext(
                aws_request_id=invocation.request_id,
                function_name=fn.name,
                invoked_function_arn=naming.function_arn(fn.name, ex.region, ex.account, naming.LATEST),
                timeout=fn.function_timeout,
                tenant_id=ex.tenant_id,
            )
            invoker = fn.invoker or self.invoker
        try:
            outcome = invoker.invoke(fn, event, context, LocalTransport(self))
        except Exception as exc:  # an invoker bug: count it as a failed invocation
            outcome = InvocationOutcome(error={"ErrorType": type(exc).__name__, "ErrorMessage": str(exc)})
        with self._lock:
            self._finish(ex, invocation, outcome)

    def _invocation_completed(
        self, ex: Execution, invocation: Invocation, now: int, error: dict[str, Any] | None
    ) -> None:
        details: dict[str, Any] = {
            "StartTimestamp": invocation.start_ms,
            "EndTimestamp": now,
            "RequestId": invocation.request_id,
        }
        if error is not None:
            details["Error"] = data(error)
        plain_event(ex.events, "InvocationCompleted", now, details)

    def _finish(self, ex: Execution, invocation: Invocation, outcome: InvocationOutcome) -> None:
        """Act on an invocation's outcome, like the service: end, suspend, or retry the invocation."""
        ex.running = False
        if ex.invocation is not invocation:  # the execution ended (stopped, timed out) meanwhile
            self._cond.notify_all()
            return
        ex.invocation = None
        ex.token = None
        ex.last_call = None
        now = self._now_ms()
        error = outcome.error
        output = outcome.output
        status = None
        if error is None:
            status, problem = self._check_output(ex, output)
            if problem is not None:
                error = {"ErrorType": "InvalidParameterValueException", "ErrorMessage": problem}
        if error is not None:
            self._invocation_completed(ex, invocation, now, error)
            self._invocation_failed(ex, error, now)
            return
        ex.failures = 0
        self._invocation_completed(ex, invocation, now, None)
        final: str | None
        result: str | None
        failure: dict[str, Any] | None
        if ex.completion is not None:  # an EXECUTION update already decided the outcome
            final, result, failure = ex.completion
        else:
            final = status
            result = output.get("Result")
            failure = output.get("Error") or {}
        assert final is not None
        if final == "SUCCEEDED":
            ex.result = result
            if result and ex.completion is None:  # the result is stored too (metered, see .limits)
                ex.bytes_written += len(result.encode())
            self._terminate(ex, "SUCCEEDED", "ExecutionSucceeded", {"Result": data(result)})
        elif final == "FAILED":
            ex.error = failure
            self._terminate(ex, "FAILED", "ExecutionFailed", {"Error": data(failure)})
        else:
            # suspended: re-invoke now if something completed meanwhile, or if it made progress but
            # waits for nothing (a handler that stopped early, e.g. near its deadline)
            if ex.wake or (ex.progress and not ex.pending):
                ex.wake = False
                self._wake(ex)
            self._save(ex)
            self._cond.notify_all()

    def _check_output(self, ex: Execution, output: Any) -> tuple[str | None, str | None]:
        """``(status, problem)``: the service's validation of a durable handler's output."""
        if not isinstance(output, dict):
            return None, "Invalid durable execution output: expected an object with a Status."
        status = output.get("Status")
        result = output.get("Result")
        error = output.get("Error")
        if status not in ("SUCCEEDED", "FAILED", "PENDING"):
            return None, f"Invalid Status in durable execution output: {status!r}."
        if result is not None and not isinstance(result, str):
            return None, "Invalid Result in durable execution output: expected a string."
        if error is not None and not isinstance(error, dict):
            return None, "Invalid Error in durable execution output: expected an ErrorObject."
        if status == "FAILED" and result is not None:
            return None, "Cannot provide a Result for FAILED status."
        if status == "SUCCEEDED" and error is not None:
            return None, "Cannot provide an Error for SUCCEEDED status."
        if status == "PENDING":
            if result is not None or error is not None:
                return None, "Cannot provide a Result or an Error for PENDING status."
            if ex.completion is None and not ex.pending and not ex.wake and not ex.progress:
                return None, "Cannot return PENDING status with no pending operations."
        if status == "SUCCEEDED" and result is not None and ex.completion is None:
            limit = self.limits.chained_invoke_payload_bytes if ex.parent else self.limits.execution_payload_bytes
            if len(result) * 4 > limit and len(result.encode()) > limit:
                return None, f"The execution result exceeds the maximum size of {limit} bytes."
        return status, None

    def _invocation_failed(self, ex: Execution, error: dict[str, Any], now: int) -> None:
        ex.failures += 1
        policy = self.invocation_retry
        if ex.failures >= policy.max_attempts:
            ex.error = error
            self._terminate(ex, "FAILED", "ExecutionFailed", {"Error": data(error)})
            return
        ex.retry_due = now + _ms(policy.delay(ex.failures))
        self._arm(ex, "reinvoke", "", ex.retry_due)
        self._save(ex)
        self._cond.notify_all()

    def _arm(self, ex: Execution, kind: str, key: str, due_ms: int) -> None:
        self._timers.arm(kind, ex.arn, key, due_ms)
        self._generation += 1
        self._cond.notify_all()

    def _timer_valid(self, timer: Timer) -> bool:
        _, _, kind, arn, key, stamp = timer
        ex = self._executions.get(arn)
        if ex is None or ex.status != RUNNING:
            return False
        if kind == "execution_timeout":
            return True
        if kind == "reinvoke":
            return ex.retry_due == stamp
        op = ex.ops.get(key)
        if op is None:
            return False
        status = op["Status"]
        if kind == "wait":
            return bool(status == "STARTED" and op["WaitDetails"]["ScheduledEndTimestamp"] == stamp)
        if kind == "retry":
            return bool(status == "PENDING" and op["StepDetails"].get("NextAttemptTimestamp") == stamp)
        deadlines = ex.callbacks.get(key)
        if status != "STARTED" or deadlines is None:
            return False
        return deadlines[2 if kind == "callback_timeout" else 3] == stamp

    def _fire_due(self, now: float) -> bool:
        """Fire every timer due at ``now``; whether any fired."""
        timers = self._timers
        fired = False
        while True:
            timer = timers.pop_due(now)
            if timer is None:
                return fired
            if self._timer_valid(timer):
                self._fire(timer)
                fired = True

    def _fire(self, timer: Timer) -> None:
        _, _, kind, arn, key, stamp = timer
        ex = self._executions[arn]
        now = max(self._now_ms(), stamp)
        if kind == "execution_timeout":
            error = {"ErrorMessage": f"The execution timed out after {ex.timeout} seconds."}
            ex.error = error
            self._terminate(ex, "TIMED_OUT", "ExecutionTimedOut", {"Error": data(error)})
            return
        if kind == "reinvoke":
            ex.retry_due = 0
            self._wake(ex)
            self._save(ex)
            return
        op = ex.ops[key]
        if kind == "wait":
            new = {**op, "Status": "SUCCEEDED", "EndTimestamp": now}
            duration = (op["WaitDetails"]["ScheduledEndTimestamp"] - op["StartTimestamp"]) // 1000
            ex.set_op(new)
            op_event(ex.events, "WaitSucceeded", new, now, {"Duration": duration})
        elif kind == "retry":  # PENDING -> READY: no event
            ex.set_op({**op, "Status": "READY"})
        else:
            heartbeat = kind == "callback_heartbeat"
            error = {
                "ErrorType": "Callback.Heartbeat" if heartbeat else "Callback.Timeout",
                "ErrorMessage": "Callback heartbeat timed out" if heartbeat else "Callback timed out",
            }
            details = {**op["CallbackDetails"], "Error": error}
            new = {**op, "Status": "TIMED_OUT", "EndTimestamp": now, "CallbackDetails": details}
            ex.set_op(new)
            ex.callbacks.pop(key, None)
            op_event(ex.events, "CallbackTimedOut", new, now, {"Error": data(error)})
        ex.pending.discard(key)
        ex.updated_ids.append(key)
        self._wake(ex)
        self._save(ex)

    def checkpoint_durable_execution(self, request: CheckpointRequest) -> CheckpointResponse:
        """Apply ``request["Updates"]`` atomically; consumes the token and returns the next one.

        The response's ``NewExecutionState.Operations`` are the operations changed since the handler last
        saw them, timers that fell due included. After an EXECUTION update the response carries no
        ``CheckpointToken``.
        """
        if self.latency:
            time.sleep(self.latency)
        arn = request.get("DurableExecutionArn")
        token = request.get("CheckpointToken")
        client_token = request.get("ClientToken")
        updates = request.get("Updates")
        if updates is None:
            updates = []
        with self._lock:
            self.calls["CheckpointDurableExecution"] += 1
            ex = self._executions.get(arn)
            if ex is None:
                raise invalid_token("no such durable execution")
            last = ex.last_call
            if client_token is not None and last is not None and last[0] == client_token and last[1] == token:
                cached: CheckpointResponse = last[2]
                return cached
            if ex.token is None or token != ex.token:
                raise invalid_token()
            self._fire_due(self.clock.now())  # so that a checkpoint (an empty one too) sees a wait that ended
            if ex.token is None:  # one of them was the execution's timeout
                raise invalid_token()
            if updates:
                metered, written = validate_updates(ex, updates, self.limits)
                self._meter(ex, metered, written)
                apply_updates(ex, updates, self._now_ms(), self)  # type: ignore[arg-type]
                ex.progress = True
            changes = ex.changes
            if len(changes) - ex.seen == 1:
                operations = [ex.ops[changes[-1]]]
            else:
                ops = ex.ops
                operations = [ops[op_id] for op_id in dict.fromkeys(changes[ex.seen :])]
            ex.seen = len(changes)
            response: dict[str, Any]
            if ex.completion is not None:
                ex.token = None
                response = {"NewExecutionState": {"Operations": operations}}
            else:
                ex.token_seq += 1
                ex.token = f"{ex.nonce}{ex.token_seq}"
                response = {"CheckpointToken": ex.token, "NewExecutionState": {"Operations": operations}}
            ex.last_call = (client_token or "", token, response) if client_token is not None else None
            if self._persist:
                self._store.save(ex)
            return response  # type: ignore[return-value]

    def _meter(self, ex: Execution, operations: int, written: int) -> None:
        """Count a checkpoint's usage; over a quota, FAIL the execution and refuse the checkpoint."""
        limits = self.limits
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
        self._terminate(ex, "FAILED", "ExecutionFailed", {"Error": data(ex.error)})
        raise invalid_parameter(problem)

    def get_durable_execution_state(self, request: GetStateRequest) -> GetStateResponse:
        """One page of the execution's operations, in start order (does not consume the token).

        Operations inside a completed CONTEXT are left out unless it replays its children (as the
        service does: they are not needed to replay).
        """
        if self.latency:
            time.sleep(self.latency)
        with self._lock:
            self.calls["GetDurableExecutionState"] += 1
            ex = self._executions.get(request.get("DurableExecutionArn", ""))
            if ex is None:
                raise invalid_token("no such durable execution")
            if ex.token is None or request.get("CheckpointToken") != ex.token:
                raise invalid_token()
            start = parse_marker(request.get("Marker"))
            size = page_size(request.get("MaxItems"), self.limits.page_size)
            operations, marker = self._page(ex, start, size)
            response: dict[str, Any] = {"Operations": operations}
            if marker:
                response["NextMarker"] = marker
            return response  # type: ignore[return-value]

    def _page(self, ex: Execution, start: int, size: int) -> tuple[list[dict[str, Any]], str | None]:
        order = ex.order
        ops = ex.ops
        end = len(order)
        budget = self.limits.page_bytes
        out: list[dict[str, Any]] = []
        index = start
        while index < end and len(out) < size:
            op = ops[order[index]]
            if "ParentId" not in op or self._visible(ex, op):
                budget -= operation_bytes(op)
                if budget < 0 and out:
                    break  # the next page starts with this operation
                out.append(op)
            index += 1
        return out, (str(index) if index < end else None)

    @staticmethod
    def _visible(ex: Execution, op: dict[str, Any]) -> bool:
        ops = ex.ops
        parent_id = op.get("ParentId")
        while parent_id is not None:
            parent = ops.get(parent_id)
            if parent is None:
                return True
            if parent["Status"] in TERMINAL_OP and not (parent.get("ContextDetails") or {}).get("ReplayChildren"):
                return False
            parent_id = parent.get("ParentId")
        return True

    def _new_callback(self, ex: Execution, op_id: str) -> str:
        """(Effects) a new unguessable callback id for operation ``op_id``."""
        callback_id = naming.callback_id()
        self._callbacks[callback_id] = (ex.arn, op_id)
        return callback_id

    def _start_chained_invoke(
        self, ex: Execution, op_id: str, function_name: str, tenant_id: str | None, payload: str | None
    ) -> tuple[str | None, dict[str, Any] | None]:
        """(Effects) start a chained invoke's target: a child execution, or a call of a plain function."""
        target = naming.parse_function_target(function_name)
        fn = self._functions.get(target[0]) if target else None
        if fn is None:
            arn = naming.function_arn(target[0] if target else function_name, self.region, self.account)
            return None, {"ErrorType": "ResourceNotFoundException", "ErrorMessage": f"Function not found: {arn}"}
        if not fn.durable:
            ex.children[op_id] = f"plain:{fn.name}"
            ex.pending.add(op_id)
            self._enqueue(lambda: self._call_plain(ex, op_id, fn, payload, tenant_id))
            return None, None
        child = self._create_execution(fn, payload, None, tenant_id, parent=(ex.arn, op_id))
        ex.children[op_id] = child.arn
        return child.arn, None

    def _call_plain(self, ex: Execution, op_id: str, fn: Function, payload: str | None, tenant_id: str | None) -> None:
        outcome = self._run_plain(fn, payload, tenant_id)
        with self._lock:
            if outcome.error is not None:
                self._complete_chained(ex, op_id, "FAILED", None, outcome.error)
            else:
                self._complete_chained(ex, op_id, "SUCCEEDED", json.dumps(outcome.output), None)

    def _run_plain(self, fn: Function, payload: str | None, tenant_id: str | None) -> InvocationOutcome:
        """Call a plain function with its decoded JSON payload (outside the lock)."""
        try:
            event = json.loads(payload) if payload else None
        except ValueError as exc:
            return InvocationOutcome(error={"ErrorType": "Runtime.UnmarshalError", "ErrorMessage": str(exc)})
        context = LambdaContext(
            aws_request_id=naming.new_request_id(),
            function_name=fn.name,
            invoked_function_arn=naming.function_arn(fn.name, self.region, self.account, naming.LATEST),
            timeout=fn.function_timeout,
            tenant_id=tenant_id,
        )
        invoker = fn.invoker or self.invoker
        try:
            return invoker.invoke(fn, event, context, LocalTransport(self))
        except Exception as exc:
            return InvocationOutcome(error={"ErrorType": type(exc).__name__, "ErrorMessage": str(exc)})

    def _resume(self) -> None:
        """Load a persistent store's executions; re-arm timers, retry in-flight invocations."""
        latest = 0
        for ex in self._store.load():
            self._index(ex)
            for op in ex.ops.values():
                if op["Type"] == "CALLBACK":
                    self._callbacks[op["CallbackDetails"]["CallbackId"]] = (ex.arn, op["Id"])
            if ex.events:
                latest = max(latest, ex.events[-1]["EventTimestamp"])
        if isinstance(self.clock, VirtualClock) and latest:
            self.clock.jump_to(latest / 1000)
        if self.read_only:  # an invocation in flight belongs to the process writing the store
            return
        for ex in list(self._executions.values()):
            if ex.status == RUNNING:
                self._rearm(ex)

    def _rearm(self, ex: Execution) -> None:
        self._arm(ex, "execution_timeout", "", ex.start_ms + ex.timeout * 1000)
        if ex.retry_due:
            self._arm(ex, "reinvoke", "", ex.retry_due)
        for op_id in ex.pending:
            op = ex.ops[op_id]
            if op["Type"] == "WAIT" and op["Status"] == "STARTED":
                self._arm(ex, "wait", op_id, op["WaitDetails"]["ScheduledEndTimestamp"])
            elif op["Type"] == "STEP" and op["Status"] == "PENDING":
                self._arm(ex, "retry", op_id, op["StepDetails"]["NextAttemptTimestamp"])
            elif op["Type"] == "CALLBACK" and op_id in ex.callbacks:
                deadlines = ex.callbacks[op_id]
                if deadlines[2]:
                    self._arm(ex, "callback_timeout", op_id, deadlines[2])
                if deadlines[3]:
                    self._arm(ex, "callback_heartbeat", op_id, deadlines[3])
            elif op["Type"] == "CHAINED_INVOKE" and op["Status"] == "STARTED":
                self._resume_chained(ex, op_id)
        queued = ex.queued
        ex.queued = False
        if ex.invocation is not None:  # the process died during this invocation: it ended there
            error = {
                "ErrorType": "Runtime.ExitError",
                "ErrorMessage": f"RequestId: {ex.invocation.request_id} Error: the local durable service "
                "stopped during the invocation",
            }
            self._invocation_completed(ex, ex.invocation, self._now_ms(), error)
            ex.invocation = None
            queued = True
        if queued:
            self._wake(ex)
        self._save(ex)

    def _resume_chained(self, ex: Execution, op_id: str) -> None:
        target = ex.children.get(op_id, "")
        if target.startswith("plain:"):  # the call's outcome was lost with the process: call it again
            fn = self._functions.get(target[6:])
            if fn is None:
                self._on_register.setdefault(target[6:], []).append(lambda: self._resume_chained(ex, op_id))
                return
            started = next(
                (e for e in ex.events if e["EventType"] == "ChainedInvokeStarted" and e["Id"] == op_id), None
            )
            if started is None:
                return
            details = started["ChainedInvokeStartedDetails"]
            payload = details["Input"].get("Payload")
            tenant = details.get("TenantId")
            self._enqueue(lambda: self._call_plain(ex, op_id, fn, payload, tenant))
            return
        child = self._executions.get(target)
        if child is not None and child.status != RUNNING:
            self._child_ended(child)

    def _enqueue(self, job: Callable[[], None]) -> None:
        self._ready.append(job)
        self._generation += 1
        self._cond.notify_all()
