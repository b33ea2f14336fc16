"""The engine of the local durable service: executions, invocations, timers firing, chained invokes, resuming.

:class:`Engine` holds the executions (and their indexes), the registered functions and the store, and does
what the service does on its own: starting executions and child executions, invoking handlers and acting
on their outputs, firing timers, completing chained invokes, and resuming from a persistent store. The
handler-facing calls are :class:`~.checkpoints.CheckpointApi`, the callback APIs
:class:`~.callbacks.CallbackApi`, the read APIs :class:`~.reads.ReadApi`; who runs the work is
:mod:`.scheduler`; :class:`~replayflow.local.LocalDurableService` puts them together. All methods here run
with the scheduler's lock held unless they say otherwise.
"""

from __future__ import annotations

import collections
import datetime as _dt
import json
from collections.abc import Callable, Mapping
from typing import Any, cast

from replayflow._wire import (
    CallbackDetailsDict,
    ChainedInvokeDetailsDict,
    CheckpointRequest,
    CheckpointResponse,
    ErrorObjectDict,
    GetStateRequest,
    GetStateResponse,
    InvocationInputDict,
    OperationDict,
)

from . import naming
from .clock import Clock, VirtualClock
from .context import LambdaContext
from .errors import ExecutionAlreadyStartedError, InvalidParameterValueError, ResourceNotFoundError
from .events import data, op_event, plain_event
from .invokers import InvocationOutcome, Invoker
from .limits import Limits
from .outputs import check_output
from .paging import TERMINAL_OP, operations_page
from .records import (
    RUNNING,
    ChainedTarget,
    Completion,
    Execution,
    Function,
    Invocation,
    InvocationRetry,
    ParentLink,
)
from .scheduler import Job, Scheduler
from .store import Store, open_store
from .timers import Timer, TimerKind, still_armed
from .usage import Prices

__all__ = ["RUNNING", "TERMINAL_EXECUTION", "TERMINAL_OP", "Engine", "HandlerApi", "LocalTransport", "datetime_from_ms"]

TERMINAL_EXECUTION = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "STOPPED"})
_CHAINED_EVENT = {
    "SUCCEEDED": "ChainedInvokeSucceeded",
    "FAILED": "ChainedInvokeFailed",
    "TIMED_OUT": "ChainedInvokeTimedOut",
    "STOPPED": "ChainedInvokeStopped",
}


def ms(seconds: float) -> int:
    """Seconds as whole milliseconds."""
    return round(seconds * 1000)


def datetime_from_ms(epoch_ms: int) -> _dt.datetime:
    """Epoch milliseconds as an aware UTC ``datetime`` (boto3's timestamp type)."""
    return _dt.datetime.fromtimestamp(epoch_ms / 1000, tz=_dt.UTC)


class HandlerApi:
    """The two calls a handler makes (implemented by :class:`~.checkpoints.CheckpointApi`)."""

    def checkpoint_durable_execution(self, request: CheckpointRequest) -> CheckpointResponse:
        raise NotImplementedError

    def get_durable_execution_state(self, request: GetStateRequest) -> GetStateResponse:
        raise NotImplementedError


class LocalTransport:
    """The :class:`replayflow.Transport` a handler invoked by the local service checkpoints through."""

    __slots__ = ("service",)

    def __init__(self, service: HandlerApi) -> None:
        self.service = service

    def checkpoint_durable_execution(self, request: CheckpointRequest) -> CheckpointResponse:
        return self.service.checkpoint_durable_execution(request)

    def get_durable_execution_state(self, request: GetStateRequest) -> GetStateResponse:
        return self.service.get_durable_execution_state(request)


class Engine:
    """The service's executions and its own behaviour (see the module docstring)."""

    def __init__(
        self,
        scheduler: Scheduler,
        *,
        clock: Clock,
        store: Store | str | None,
        limits: Limits,
        invoker: Invoker,
        invocation_retry: InvocationRetry,
        region: str,
        account: str,
        prices: Prices,
        read_only: bool,
    ) -> None:
        self.scheduler = scheduler
        self.lock = scheduler.lock
        self.clock = clock
        self.limits = limits
        self.prices = prices
        self.invoker = invoker
        self.invocation_retry = invocation_retry
        self.region = region
        self.account = account
        #: What a handler's Checkpoint/GetState calls reach (set by the service).
        self.handler_api = HandlerApi()
        #: API calls made to this service, by operation name (``"CheckpointDurableExecution"``...).
        self.calls: collections.Counter[str] = collections.Counter()
        self.functions: dict[str, Function] = {}
        self.executions: dict[str, Execution] = {}
        self.by_function: dict[str, list[Execution]] = {}
        self._by_name: dict[tuple[str, str], Execution] = {}
        #: callback id -> (execution arn, CALLBACK operation id)
        self.callbacks: dict[str, tuple[str, str]] = {}
        #: What to do once a function is registered (executions resumed from a store before that).
        self._on_register: dict[str, list[Callable[[], None]]] = {}
        self.store = open_store(store, read_only=read_only)
        self.persist = self.store.durable
        #: Opened to read a store: executions are loaded as they are, nothing is resumed or written.
        self.read_only = read_only
        self._fire_kind: dict[TimerKind, Callable[[Execution, str, int], None]] = {
            "execution_timeout": self._timed_out,
            "reinvoke": self._reinvoke,
            "wait": self._wait_ended,
            "retry": self._retry_ready,
            "callback_timeout": self._callback_timed_out,
            "callback_heartbeat": self._callback_heartbeat_timed_out,
        }
        self._rearm_kind: dict[str, Callable[[Execution, str, OperationDict], None]] = {
            "WAIT": self._rearm_wait,
            "STEP": self._rearm_retry,
            "CALLBACK": self._rearm_callback,
            "CHAINED_INVOKE": self._rearm_chained,
        }
        with self.lock:
            self._resume()

    # -- lookups and bookkeeping

    def function(self, name: str) -> Function:
        fn = self.functions.get(name)
        if fn is None:
            raise ResourceNotFoundError(f"Function not found: {naming.function_arn(name, self.region, self.account)}")
        return fn

    def execution(self, arn: str) -> Execution:
        ex = self.executions.get(arn)
        if ex is None:
            raise ResourceNotFoundError(f"Durable execution not found: {arn}")
        return ex

    def now_ms(self) -> int:
        return round(self.clock.now() * 1000)

    def register(self, fn: Function) -> None:
        """Register ``fn``, and resume what waited for it."""
        waiting = self._on_register.pop(fn.name, [])
        self.functions[fn.name] = fn
        for resume in waiting:
            resume()

    def _index(self, ex: Execution) -> None:
        self.executions[ex.arn] = ex
        self.by_function.setdefault(ex.function_name, []).append(ex)
        self._by_name[(ex.function_name, ex.name)] = ex

    def save(self, ex: Execution) -> None:
        if self.persist:
            self.store.save(ex)

    def wake(self, ex: Execution) -> None:
        """Something completed: (re-)invoke, or once the running invocation ends."""
        if ex.status != RUNNING:
            return
        if ex.running:
            ex.wake = True
        elif not ex.queued:
            ex.queued = True
            self.scheduler.enqueue(lambda: self._invoke(ex))

    def operation_changed(self, ex: Execution, op_id: str) -> None:
        """The service changed operation ``op_id`` (its new dict and event are stored): tell the handler."""
        ex.pending.discard(op_id)
        ex.updated_ids.append(op_id)
        self.wake(ex)
        self.save(ex)

    def arm(self, ex: Execution, kind: TimerKind, key: str, due_ms: int) -> None:
        """Arm a timer of ``kind`` for ``ex`` (operation ``key``) at ``due_ms``."""
        self.scheduler.arm(kind, ex.arn, key, due_ms)

    def enqueue(self, job: Job) -> None:
        self.scheduler.enqueue(job)

    # -- starting and ending executions

    def start_execution(self, function_name: str, payload: str | None, name: str | None, tenant_id: str | None) -> str:
        """Start an execution of durable function ``function_name``; its ARN."""
        fn = self.function(function_name)
        if not fn.durable:
            raise InvalidParameterValueError(f"Function {function_name} is not a durable function.")
        ex = self._create_execution(fn, payload, name, tenant_id, parent=None)
        self.scheduler.changed()
        return ex.arn

    def _existing(self, fn: Function, name: str, payload: str | None) -> Execution | None:
        """The execution already named ``name`` (same payload), or ``None``; a different payload is refused."""
        if not naming.valid_execution_name(name):
            raise InvalidParameterValueError("DurableExecutionName must be 1-64 characters of [a-zA-Z0-9-_].")
        existing = self._by_name.get((fn.name, name))
        if existing is None or existing.input_payload == payload:
            return existing
        raise ExecutionAlreadyStartedError(
            f"A durable execution named {name} already exists for function {fn.name} with a different payload."
        )

    def _create_execution(
        self, fn: Function, payload: str | None, name: str | None, tenant_id: str | None, parent: ParentLink | None
    ) -> Execution:
        if name is not None:
            existing = self._existing(fn, name, payload)
            if existing is not None:
                return existing
        else:
            name = naming.new_execution_name()
        execution_id = naming.new_execution_id()
        now = self.now_ms()
        ex = Execution(
            arn=naming.execution_arn(fn.name, name, execution_id, self.region, self.account),
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
            bytes_written=len(payload.encode()) if payload else 0,
        )
        self._index(ex)
        op: OperationDict = {
            "Id": execution_id,
            "Name": name,
            "Type": "EXECUTION",
            "StartTimestamp": now,
            "Status": "STARTED",
            "ExecutionDetails": {} if payload is None else {"InputPayload": payload},
        }
        ex.add_op(op)
        op_event(ex.events, "ExecutionStarted", op, now, {"Input": data(payload), "ExecutionTimeout": ex.timeout})
        self.arm(ex, "execution_timeout", "", now + ex.timeout * 1000)
        self.wake(ex)
        self.save(ex)
        return ex

    def terminate(self, ex: Execution, status: str, event_type: str, details: dict[str, Any]) -> None:
        """End execution ``ex`` (SUCCEEDED/FAILED/TIMED_OUT/STOPPED) and tell a waiting parent."""
        now = self.now_ms()
        if ex.invocation is not None:  # closed early (stopped, timed out): it still gets its event
            self._invocation_completed(ex, ex.invocation, now, None)
            ex.invocation = None
        ex.status = status
        ex.end_ms = now
        ex.tokens.current = None
        ex.queued = False
        ex.pending.clear()
        execution_op = ex.ops[ex.id]
        if execution_op["Status"] not in TERMINAL_OP:
            ex.set_op({**execution_op, "Status": status, "EndTimestamp": now})
        op_event(ex.events, event_type, execution_op, now, details)
        self.save(ex)
        if ex.parent is not None:
            self._child_ended(ex)
        self.scheduler.changed()

    def fail(self, ex: Execution, error: Mapping[str, object]) -> None:
        """End ``ex`` FAILED with ``error``."""
        ex.error = dict(error)
        self.terminate(ex, "FAILED", "ExecutionFailed", {"Error": data(ex.error)})

    def stop(self, ex: Execution, error: dict[str, Any] | None) -> None:
        """StopDurableExecution of a running ``ex``."""
        if ex.status != RUNNING:
            raise InvalidParameterValueError(f"Durable execution {ex.arn} is not running (status {ex.status}).")
        ex.error = error
        self.terminate(ex, "STOPPED", "ExecutionStopped", {"Error": data(error or {})})

    # -- invocations

    def _invoke(self, ex: Execution) -> None:
        """One invocation of ``ex``'s handler (a job run by a driver, outside the lock)."""
        with self.lock:
            started = self._begin_invocation(ex)
        if started is None:
            return
        fn, event, context, invocation = started
        invoker = fn.invoker or self.invoker
        try:
            outcome = invoker.invoke(fn, event, context, LocalTransport(self.handler_api))
        except Exception as exc:  # an invoker bug: count it as a failed invocation
            outcome = InvocationOutcome(error={"ErrorType": type(exc).__name__, "ErrorMessage": str(exc)})
        with self.lock:
            self._finish(ex, invocation, outcome)

    def _begin_invocation(
        self, ex: Execution
    ) -> tuple[Function, InvocationInputDict, LambdaContext, Invocation] | None:
        """Open an invocation of ``ex``: its function, event, context and record (``None``: nothing to run)."""
        ex.queued = False
        if ex.status != RUNNING or ex.running:
            return None
        fn = self.functions.get(ex.function_name)
        if fn is None:  # resumed from a store before its function was registered: wait for it
            self._on_register.setdefault(ex.function_name, []).append(lambda: self.wake(ex))
            return None
        ex.running = True
        ex.wake = False
        ex.progress = False
        invocation = Invocation(naming.new_request_id(), self.now_ms())
        ex.invocation = invocation
        ex.invocations += 1
        token = ex.tokens.open()
        ex.seen = len(ex.changes)
        operations, marker = operations_page(ex, 0, self.limits.page_size, self.limits.page_bytes)
        event: InvocationInputDict = {
            "DurableExecutionArn": ex.arn,
            "CheckpointToken": token,
            "InitialExecutionState": {"Operations": operations, "NextMarker": marker or ""},
            "UpdatedOperationIds": ex.updated_ids,
        }
        ex.updated_ids = []
        self.save(ex)
        context = self._context(fn, invocation.request_id, ex.tenant_id)
        return fn, event, context, invocation

    def _context(self, fn: Function, request_id: str, tenant_id: str | None) -> LambdaContext:
        return LambdaContext(
            aws_request_id=request_id,
            function_name=fn.name,
            invoked_function_arn=naming.function_arn(fn.name, self.region, self.account, naming.LATEST),
            timeout=fn.function_timeout,
            tenant_id=tenant_id,
        )

    def _invocation_completed(
        self, ex: Execution, invocation: Invocation, now: int, error: Mapping[str, object] | None
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
            self.scheduler.cond.notify_all()
            return
        ex.invocation = None
        ex.tokens.close()
        now = self.now_ms()
        error = outcome.error
        status = None
        if error is None:
            status, problem = check_output(ex, outcome.output, self.limits)
            if problem is not None:
                error = {"ErrorType": "InvalidParameterValueException", "ErrorMessage": problem}
        if error is not None:
            self._invocation_completed(ex, invocation, now, error)
            self._invocation_failed(ex, error, now)
            return
        ex.failures = 0
        self._invocation_completed(ex, invocation, now, None)
        self._conclude(ex, self._decision(ex, status, outcome.output))

    @staticmethod
    def _decision(ex: Execution, status: str | None, output: Any) -> Completion:
        """What the invocation decided: an EXECUTION update's outcome, else its output's."""
        if ex.completion is not None:
            return ex.completion
        assert status is not None
        return Completion(status, output.get("Result"), output.get("Error") or {})

    def _conclude(self, ex: Execution, decided: Completion) -> None:
        """End ``ex`` as ``decided``, or suspend it (PENDING)."""
        if decided.status == "SUCCEEDED":
            result = decided.result
            if result and ex.completion is None:  # the result is stored too (metered, see .limits)
                ex.bytes_written += len(result.encode())
            ex.result = result
            self.terminate(ex, "SUCCEEDED", "ExecutionSucceeded", {"Result": data(result)})
        elif decided.status == "FAILED":
            ex.error = decided.error
            self.terminate(ex, "FAILED", "ExecutionFailed", {"Error": data(decided.error)})
        else:
            # suspended: re-invoke now if something completed meanwhile, or if it made progress but
            # waits for nothing (a handler that stopped early, e.g. near its deadline)
            if ex.wake or (ex.progress and not ex.pending):
                ex.wake = False
                self.wake(ex)
            self.save(ex)
            self.scheduler.cond.notify_all()

    def _invocation_failed(self, ex: Execution, error: Mapping[str, object], now: int) -> None:
        ex.failures += 1
        policy = self.invocation_retry
        if ex.failures >= policy.max_attempts:
            self.fail(ex, error)
            return
        ex.retry_due = now + ms(policy.delay(ex.failures))
        self.arm(ex, "reinvoke", "", ex.retry_due)
        self.save(ex)
        self.scheduler.cond.notify_all()

    # -- timers

    def timer_armed(self, timer: Timer) -> bool:
        """Whether ``timer`` still stands (see :func:`.timers.still_armed`)."""
        return still_armed(self.executions.get(timer.arn), timer)

    def fire_due(self, now: float) -> bool:
        """Fire every timer due at ``now``; whether any fired."""
        timers = self.scheduler.timers
        fired = False
        while True:
            timer = timers.pop_due(now)
            if timer is None:
                return fired
            if self.timer_armed(timer):
                ex = self.executions[timer.arn]
                self._fire_kind[timer.kind](ex, timer.key, max(self.now_ms(), timer.stamp))
                fired = True

    def _timed_out(self, ex: Execution, key: str, now: int) -> None:
        error = {"ErrorMessage": f"The execution timed out after {ex.timeout} seconds."}
        ex.error = error
        self.terminate(ex, "TIMED_OUT", "ExecutionTimedOut", {"Error": data(error)})

    def _reinvoke(self, ex: Execution, key: str, now: int) -> None:
        ex.retry_due = 0
        self.wake(ex)
        self.save(ex)

    def _wait_ended(self, ex: Execution, key: str, now: int) -> None:
        op = ex.ops[key]
        new: OperationDict = {**op, "Status": "SUCCEEDED", "EndTimestamp": now}
        duration = (op["WaitDetails"]["ScheduledEndTimestamp"] - op["StartTimestamp"]) // 1000
        ex.set_op(new)
        op_event(ex.events, "WaitSucceeded", new, now, {"Duration": duration})
        self.operation_changed(ex, key)

    def _retry_ready(self, ex: Execution, key: str, now: int) -> None:
        ex.set_op({**ex.ops[key], "Status": "READY"})  # PENDING -> READY: no event
        self.operation_changed(ex, key)

    def _callback_timed_out(self, ex: Execution, key: str, now: int) -> None:
        self._close_callback(ex, key, now, {"ErrorType": "Callback.Timeout", "ErrorMessage": "Callback timed out"})

    def _callback_heartbeat_timed_out(self, ex: Execution, key: str, now: int) -> None:
        error: ErrorObjectDict = {"ErrorType": "Callback.Heartbeat", "ErrorMessage": "Callback heartbeat timed out"}
        self._close_callback(ex, key, now, error)

    def _close_callback(self, ex: Execution, key: str, now: int, error: ErrorObjectDict) -> None:
        op = ex.ops[key]
        details: CallbackDetailsDict = {**op["CallbackDetails"], "Error": error}
        new: OperationDict = {**op, "Status": "TIMED_OUT", "EndTimestamp": now, "CallbackDetails": details}
        ex.set_op(new)
        ex.callbacks.pop(key, None)
        op_event(ex.events, "CallbackTimedOut", new, now, {"Error": data(error)})
        self.operation_changed(ex, key)

    # -- effects of checkpoints (see .updates.Effects)

    def new_callback(self, ex: Execution, op_id: str) -> str:
        """A new unguessable callback id for operation ``op_id``."""
        callback_id = naming.callback_id()
        self.callbacks[callback_id] = (ex.arn, op_id)
        return callback_id

    def start_chained_invoke(
        self, ex: Execution, op_id: str, function_name: str, tenant_id: str | None, payload: str | None
    ) -> tuple[str | None, ErrorObjectDict | None]:
        """Start a chained invoke's target: a child execution, or a call of a plain function."""
        target = naming.parse_function_target(function_name)
        fn = self.functions.get(target[0]) if target else None
        if fn is None:
            arn = naming.function_arn(target[0] if target else function_name, self.region, self.account)
            return None, {"ErrorType": "ResourceNotFoundException", "ErrorMessage": f"Function not found: {arn}"}
        if not fn.durable:
            ex.children[op_id] = ChainedTarget("plain", fn.name)
            ex.pending.add(op_id)
            self.enqueue(lambda: self._call_plain(ex, op_id, fn, payload, tenant_id))
            return None, None
        child = self._create_execution(fn, payload, None, tenant_id, parent=ParentLink(ex.arn, op_id))
        ex.children[op_id] = ChainedTarget("execution", child.arn)
        return child.arn, None

    # -- chained invokes

    def _child_ended(self, child: Execution) -> None:
        assert child.parent is not None
        parent = self.executions.get(child.parent.arn)
        if parent is None:
            return
        result, error = child.result, child.error
        status = child.status
        limit = self.limits.chained_invoke_payload_bytes
        if status == "SUCCEEDED" and result is not None and len(result.encode()) > limit:
            status, result = "FAILED", None
            error = {
                "ErrorType": "InvalidParameterValueException",
                "ErrorMessage": f"The invoked function's output exceeds the maximum size of {limit} bytes.",
            }
        self._complete_chained(parent, child.parent.op_id, status, result, error)

    def _complete_chained(
        self, ex: Execution, op_id: str, status: str, result: str | None, error: dict[str, Any] | None
    ) -> None:
        op = ex.ops.get(op_id)
        if ex.status != RUNNING or op is None or op["Status"] != "STARTED":
            return
        now = self.now_ms()
        details: ChainedInvokeDetailsDict = {}
        if status == "SUCCEEDED":
            if result is not None:
                details["Result"] = result
            event_details = {"Result": data(result)}
        else:
            details["Error"] = cast("ErrorObjectDict", error or {})  # the child's recorded ErrorObject
            event_details = {"Error": data(details["Error"])}
        new: OperationDict = {**op, "Status": status, "EndTimestamp": now, "ChainedInvokeDetails": details}
        ex.set_op(new)
        op_event(ex.events, _CHAINED_EVENT[status], new, now, event_details)
        self.operation_changed(ex, op_id)

    def _call_plain(self, ex: Execution, op_id: str, fn: Function, payload: str | None, tenant_id: str | None) -> None:
        outcome = self.run_plain(fn, payload, tenant_id)
        with self.lock:
            if outcome.error is not None:
                self._complete_chained(ex, op_id, "FAILED", None, dict(outcome.error))
            else:
                self._complete_chained(ex, op_id, "SUCCEEDED", json.dumps(outcome.output), None)

    def run_plain(self, fn: Function, payload: str | None, tenant_id: str | None) -> InvocationOutcome:
        """Call a plain function with its decoded JSON payload (outside the lock)."""
        try:
            event = json.loads(payload) if payload else None
        except ValueError as exc:
            return InvocationOutcome(error={"ErrorType": "Runtime.UnmarshalError", "ErrorMessage": str(exc)})
        context = self._context(fn, naming.new_request_id(), tenant_id)
        invoker = fn.invoker or self.invoker
        try:
            return invoker.invoke(fn, event, context, LocalTransport(self.handler_api))
        except Exception as exc:
            return InvocationOutcome(error={"ErrorType": type(exc).__name__, "ErrorMessage": str(exc)})

    # -- resuming from a store

    def _resume(self) -> None:
        """Load a persistent store's executions; re-arm timers, retry in-flight invocations."""
        latest = 0
        for ex in self.store.load():
            self._index(ex)
            for op in ex.ops.values():
                if op["Type"] == "CALLBACK":
                    self.callbacks[op["CallbackDetails"]["CallbackId"]] = (ex.arn, op["Id"])
            if ex.events:
                latest = max(latest, ex.events[-1]["EventTimestamp"])
        if isinstance(self.clock, VirtualClock) and latest:
            self.clock.jump_to(latest / 1000)
        if self.read_only:  # an invocation in flight belongs to the process writing the store
            return
        for ex in list(self.executions.values()):
            if ex.status == RUNNING:
                self._rearm(ex)

    def _rearm(self, ex: Execution) -> None:
        self.arm(ex, "execution_timeout", "", ex.start_ms + ex.timeout * 1000)
        if ex.retry_due:
            self.arm(ex, "reinvoke", "", ex.retry_due)
        for op_id in ex.pending:
            self._rearm_operation(ex, op_id, ex.ops[op_id])
        queued = ex.queued
        ex.queued = False
        if ex.invocation is not None:  # the process died during this invocation: it ended there
            error: ErrorObjectDict = {
                "ErrorType": "Runtime.ExitError",
                "ErrorMessage": f"RequestId: {ex.invocation.request_id} Error: the local durable service "
                "stopped during the invocation",
            }
            self._invocation_completed(ex, ex.invocation, self.now_ms(), error)
            ex.invocation = None
            queued = True
        if queued:
            self.wake(ex)
        self.save(ex)

    def _rearm_operation(self, ex: Execution, op_id: str, op: OperationDict) -> None:
        """Arm again what pending operation ``op`` waits for."""
        rearm = self._rearm_kind.get(op["Type"])
        if rearm is not None:
            rearm(ex, op_id, op)

    def _rearm_wait(self, ex: Execution, op_id: str, op: OperationDict) -> None:
        if op["Status"] == "STARTED":
            self.arm(ex, "wait", op_id, op["WaitDetails"]["ScheduledEndTimestamp"])

    def _rearm_retry(self, ex: Execution, op_id: str, op: OperationDict) -> None:
        if op["Status"] == "PENDING":
            self.arm(ex, "retry", op_id, op["StepDetails"]["NextAttemptTimestamp"])

    def _rearm_callback(self, ex: Execution, op_id: str, op: OperationDict) -> None:
        deadlines = ex.callbacks.get(op_id)
        if deadlines is None:
            return
        if deadlines.timeout_due:
            self.arm(ex, "callback_timeout", op_id, deadlines.timeout_due)
        if deadlines.heartbeat_due:
            self.arm(ex, "callback_heartbeat", op_id, deadlines.heartbeat_due)

    def _rearm_chained(self, ex: Execution, op_id: str, op: OperationDict) -> None:
        if op["Status"] == "STARTED":
            self._resume_chained(ex, op_id)

    def _resume_chained(self, ex: Execution, op_id: str) -> None:
        target = ex.children.get(op_id)
        if target is None:
            return
        if target.kind == "plain":  # the call's outcome was lost with the process: call it again
            self._call_plain_again(ex, op_id, target.target)
            return
        child = self.executions.get(target.target)
        if child is not None and child.status != RUNNING:
            self._child_ended(child)

    def _call_plain_again(self, ex: Execution, op_id: str, function_name: str) -> None:
        fn = self.functions.get(function_name)
        if fn is None:
            self._on_register.setdefault(function_name, []).append(lambda: self._resume_chained(ex, op_id))
            return
        started = next((e for e in ex.events if e["EventType"] == "ChainedInvokeStarted" and e["Id"] == op_id), None)
        if started is None:
            return
        details = started["ChainedInvokeStartedDetails"]
        payload = details["Input"].get("Payload")
        tenant = details.get("TenantId")
        self.enqueue(lambda: self._call_plain(ex, op_id, fn, payload, tenant))
