"""The local durable execution service: executions, invocations, checkpoints, timers and the driver.

:class:`LocalDurableService` implements the service side of the durable execution protocol in-process.
It starts executions of registered functions, invokes their handlers (through an :class:`Invoker`) with
the protocol's invocation input, answers their CheckpointDurableExecution / GetDurableExecutionState
calls, keeps the history, fires timers and re-invokes after every completion, and acts on each
invocation's output like the real service.

Who runs the work: nothing happens in the background until someone *drives* the service.
:meth:`~LocalDurableService.wait`, :meth:`~LocalDurableService.run`, :meth:`~LocalDurableService.advance`
and :meth:`~LocalDurableService.run_until_idle` drive it in the calling thread; :meth:`~LocalDurableService.start`
starts background driver threads (what the HTTP face uses). Invocations run outside the service's lock,
and at most one invocation of an execution runs at a time.
"""

from __future__ import annotations

import collections
import datetime as _dt
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from replayflow._wire import CheckpointRequest, CheckpointResponse, GetStateRequest, GetStateResponse

from . import naming
from .clock import Clock, VirtualClock
from .context import LambdaContext
from .errors import (
    callback_timeout,
    execution_already_started,
    invalid_parameter,
    invalid_token,
    not_found,
    request_too_large,
)
from .events import data, op_event, plain_event, render_event
from .invokers import InProcessInvoker, InvocationOutcome, Invoker
from .limits import Limits
from .records import Execution, ExecutionResult, Function, Invocation, InvocationRetry
from .store import Store, open_store
from .timers import Timer, Timers
from .updates import apply_updates, validate_updates

__all__ = ["LocalDurableService", "LocalTransport"]

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


_datetime = datetime_from_ms


class LocalTransport:
    """The :class:`replayflow.Transport` a handler invoked by the local service checkpoints through."""

    __slots__ = ("service",)

    def __init__(self, service: LocalDurableService) -> None:
        self.service = service

    def checkpoint_durable_execution(self, request: CheckpointRequest) -> CheckpointResponse:
        return self.service.checkpoint_durable_execution(request)

    def get_durable_execution_state(self, request: GetStateRequest) -> GetStateResponse:
        return self.service.get_durable_execution_state(request)


class LocalDurableService:
    """An in-process implementation of the AWS Lambda durable execution service.

    ``clock``: :class:`VirtualClock` (default; time jumps to the next timer) or :class:`RealClock`.
    ``store``: ``None``/``"memory"`` (default), a SQLite file path, or a :class:`Store`.
    ``limits``: :class:`Limits` (payload sizes, batch size, page size). ``invoker``: how handlers run
    (default :class:`InProcessInvoker`; a function may have its own). ``invocation_retry``: how failed
    invocations are retried. ``latency``: seconds slept in every Checkpoint/GetState call (benchmarks).
    ``execution_timeout`` / ``function_timeout``: defaults for registered functions (seconds).
    API calls are counted in :attr:`calls` (by operation name).
    """

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
    ) -> None:
        self.clock: Clock = clock if clock is not None else VirtualClock()
        self.limits = limits or Limits()
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
        self._store = open_store(store)
        self._persist = self._store.durable
        with self._lock:
            self._resume()

    # -- registration and starting ----------------------------------------------------------------------

    def register(
        self,
        name: str,
        handler: Callable[..., Any] | str,
        *,
        durable: bool = True,
        invoker: Invoker | None = None,
        execution_timeout: int | None = None,
        function_timeout: float | None = None,
    ) -> None:
        """Register a function under ``name``: a durable handler (default), or a plain function.

        ``handler`` is a callable ``handler(event, lambda_context)`` or a ``"module:attribute"`` string.
        A plain function (``durable=False``) is a chained-invoke target called with the decoded payload.
        """
        if not naming.valid_function_name(name):
            raise ValueError(f"invalid function name {name!r}: use 1-64 letters, digits, '-' or '_'")
        if not callable(handler) and not isinstance(handler, str):
            raise TypeError(f"the handler of {name} must be callable or a 'module:attribute' string")
        timeout = self.execution_timeout if execution_timeout is None else execution_timeout
        if not 1 <= timeout <= 31_622_400:
            raise ValueError("execution_timeout must be between 1 and 31622400 seconds")
        with self._lock:
            waiting = self._on_register.pop(name, [])
            self._functions[name] = Function(
                name=name,
                handler=handler,
                durable=durable,
                invoker=invoker,
                execution_timeout=timeout,
                function_timeout=self.function_timeout if function_timeout is None else function_timeout,
            )
            for resume in waiting:
                resume()

    def start_execution(
        self,
        function_name: str,
        payload: str | bytes | None = None,
        *,
        name: str | None = None,
        tenant_id: str | None = None,
    ) -> str:
        """Start an execution of a registered durable function with ``payload`` (JSON text); its ARN.

        Naming an execution twice returns the first one's ARN when the payload is the same, and raises
        ``DurableExecutionAlreadyStartedException`` when it differs.
        """
        text = payload.decode() if isinstance(payload, bytes) else payload
        with self._lock:
            fn = self._function(function_name)
            if not fn.durable:
                raise invalid_parameter(f"Function {function_name} is not a durable function.")
            ex = self._create_execution(fn, text, name, tenant_id, parent=None)
            self._generation += 1
            self._cond.notify_all()
            return ex.arn

    def run(
        self, function_name: str, input: Any = None, *, name: str | None = None, timeout: float | None = None
    ) -> ExecutionResult:
        """Start an execution with ``input`` (JSON-encoded) and drive it to its end."""
        arn = self.start_execution(function_name, json.dumps(input), name=name)
        return self.wait(arn, timeout=timeout)

    # -- driving ------------------------------------------------------------------------------------------

    def wait(self, arn: str, timeout: float | None = None) -> ExecutionResult:
        """Drive the service until execution ``arn`` has ended; raise ``TimeoutError`` after ``timeout`` s."""
        with self._lock:
            ex = self._execution(arn)
        if not self._drive(lambda: ex.status != RUNNING, timeout=timeout):
            raise TimeoutError(f"execution {arn} did not end within {timeout} seconds (status {ex.status})")
        return ex.result_view()

    def run_until_idle(self, timeout: float | None = None) -> None:
        """Drive until nothing is ready, running or armed (executions ended or waiting on the outside)."""
        if not self._drive(self._idle, timeout=timeout):
            raise TimeoutError(f"the service was still busy after {timeout} seconds")

    def advance(self, seconds: float) -> None:
        """Virtual clocks only: let ``seconds`` of time go by, firing timers and running invocations."""
        clock = self.clock
        if not isinstance(clock, VirtualClock):
            raise TypeError("advance() needs a VirtualClock")
        horizon = (round(clock.now() * 1000) + round(seconds * 1000)) / 1000
        self._drive(lambda: self._quiet_at(horizon), horizon=horizon)

    def start(self, workers: int = 2) -> None:
        """Start ``workers`` background driver threads (stopped by :meth:`close`)."""
        with self._lock:
            self._closing = False
            for index in range(workers):
                thread = threading.Thread(
                    target=self._drive, args=(lambda: self._closing,), name=f"replayflow-local-{index}", daemon=True
                )
                self._threads.append(thread)
                thread.start()

    def close(self) -> None:
        """Stop background drivers, close invokers and the store."""
        with self._lock:
            self._closing = True
            self._cond.notify_all()
            threads, self._threads = self._threads, []
        for thread in threads:
            thread.join(timeout=5)
        invokers = {id(self.invoker): self.invoker}
        for fn in self._functions.values():
            if fn.invoker is not None:
                invokers[id(fn.invoker)] = fn.invoker
        for invoker in invokers.values():
            invoker.close()
        with self._lock:
            self._store.close()

    def __enter__(self) -> LocalDurableService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def driving(self) -> bool:
        """Whether background driver threads are running (see :meth:`start`)."""
        return bool(self._threads)

    def transport(self) -> LocalTransport:
        """A :class:`replayflow.Transport` to this service."""
        return LocalTransport(self)

    def _idle(self) -> bool:
        return not self._ready and self._busy == 0 and self._timers.next_due(self._timer_valid) is None

    def _quiet_at(self, horizon: float) -> bool:
        if self._ready or self._busy or self.clock.now() < horizon:
            return False
        due = self._timers.next_due(self._timer_valid)
        return due is None or due > horizon

    def _drive(self, done: Callable[[], bool], *, horizon: float | None = None, timeout: float | None = None) -> bool:
        """Run ready work, fire timers and move a virtual clock until ``done()``; ``False`` on timeout."""
        clock = self.clock
        virtual = isinstance(clock, VirtualClock)
        end = None if timeout is None else time.monotonic() + timeout
        cond = self._cond
        while True:
            with cond:
                while True:
                    if done():
                        return True
                    now = clock.now()
                    if self._fire_due(now):
                        continue
                    if self._ready:
                        job = self._ready.popleft()
                        self._busy += 1
                        break
                    due = self._timers.next_due(self._timer_valid)
                    if virtual and self._busy == 0:
                        assert isinstance(clock, VirtualClock)
                        target = due
                        if horizon is not None and (target is None or target > horizon):
                            target = horizon if now < horizon else None
                        if target is not None and (clock.autojump or horizon is not None):
                            if clock.autojump_threshold > 0 and horizon is None:
                                generation = self._generation
                                cond.wait(clock.autojump_threshold)
                                if generation != self._generation:
                                    continue
                            clock.jump_to(target)
                            continue
                    wait: float | None = None
                    if due is not None and not virtual:
                        wait = clock.real_delay(due - now)
                    if end is not None:
                        remaining = end - time.monotonic()
                        if remaining <= 0:
                            return False
                        wait = remaining if wait is None else min(wait, remaining)
                    cond.wait(wait)
            try:
                job()
            finally:
                with cond:
                    self._busy -= 1
                    self._generation += 1
                    cond.notify_all()

    def _enqueue(self, job: Callable[[], None]) -> None:
        self._ready.append(job)
        self._generation += 1
        self._cond.notify_all()

    # -- executions ---------------------------------------------------------------------------------------

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

    # -- invocations --------------------------------------------------------------------------------------

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

    # -- timers -------------------------------------------------------------------------------------------

    def _arm(self, ex: Execution, kind: str, key: str, due_ms: int) -> None:
        self._timers.arm(kind, ex.arn, key, due_ms)
        self._generation += 1
        self._cond.notify_all()

    def arm(self, ex: Execution, kind: str, op_id: str, due_ms: int) -> None:
        """(Effects) arm a timer for an operation."""
        self._arm(ex, kind, op_id, due_ms)

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

    # -- CheckpointDurableExecution / GetDurableExecutionState --------------------------------------------

    def checkpoint_durable_execution(self, request: CheckpointRequest) -> CheckpointResponse:
        """Apply ``request["Updates"]`` atomically; consumes the token and returns the next one.

        The response's ``NewExecutionState.Operations`` are the operations changed since the handler last
        saw them. After an EXECUTION update the response carries no ``CheckpointToken``.
        """
        if self.latency:
            time.sleep(self.latency)
        self.calls["CheckpointDurableExecution"] += 1
        arn = request.get("DurableExecutionArn")
        token = request.get("CheckpointToken")
        client_token = request.get("ClientToken")
        updates = request.get("Updates")
        if updates is None:
            updates = []
        with self._lock:
            ex = self._executions.get(arn)
            if ex is None:
                raise invalid_token("no such durable execution")
            last = ex.last_call
            if client_token is not None and last is not None and last[0] == client_token and last[1] == token:
                cached: CheckpointResponse = last[2]
                return cached
            if ex.token is None or token != ex.token:
                raise invalid_token()
            if updates:
                validate_updates(ex, updates, self.limits)
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

    def get_durable_execution_state(self, request: GetStateRequest) -> GetStateResponse:
        """One page of the execution's operations, in start order (does not consume the token).

        Operations inside a completed CONTEXT are left out unless it replays its children (as the
        service does: they are not needed to replay).
        """
        if self.latency:
            time.sleep(self.latency)
        self.calls["GetDurableExecutionState"] += 1
        with self._lock:
            ex = self._executions.get(request.get("DurableExecutionArn", ""))
            if ex is None:
                raise invalid_token("no such durable execution")
            if ex.token is None or request.get("CheckpointToken") != ex.token:
                raise invalid_token()
            start = _parse_marker(request.get("Marker"))
            size = _page_size(request.get("MaxItems"), self.limits.page_size)
            operations, marker = self._page(ex, start, size)
            response: dict[str, Any] = {"Operations": operations}
            if marker:
                response["NextMarker"] = marker
            return response  # type: ignore[return-value]

    def _page(self, ex: Execution, start: int, size: int) -> tuple[list[dict[str, Any]], str | None]:
        order = ex.order
        ops = ex.ops
        end = len(order)
        out: list[dict[str, Any]] = []
        index = start
        while index < end and len(out) < size:
            op = ops[order[index]]
            index += 1
            if "ParentId" not in op or self._visible(ex, op):
                out.append(op)
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

    # -- chained invoke (Effects) -------------------------------------------------------------------------

    def new_callback(self, ex: Execution, op_id: str) -> str:
        """(Effects) a new unguessable callback id for operation ``op_id``."""
        callback_id = naming.callback_id()
        self._callbacks[callback_id] = (ex.arn, op_id)
        return callback_id

    def start_chained_invoke(
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

    # -- callbacks ----------------------------------------------------------------------------------------

    def _open_callback(self, callback_id: Any) -> tuple[Execution, str, dict[str, Any]]:
        if not isinstance(callback_id, str) or not naming.valid_callback_id(callback_id):
            raise invalid_parameter("CallbackId must match [A-Za-z0-9+/]+={0,2} (1-1024 characters).")
        where = self._callbacks.get(callback_id)
        if where is None:
            raise callback_timeout("The callback ID is not valid, or the callback has already been closed.")
        ex = self._executions[where[0]]
        op = ex.ops[where[1]]
        if ex.status != RUNNING or op["Status"] != "STARTED":
            raise callback_timeout("The callback has already been closed, or its execution has ended.")
        return ex, where[1], op

    def _close_callback(
        self, ex: Execution, op_id: str, op: dict[str, Any], status: str, event_type: str, key: str, value: Any
    ) -> None:
        now = self._now_ms()
        details = dict(op["CallbackDetails"])
        if value is not None:
            details[key] = value
        new = {**op, "Status": status, "EndTimestamp": now, "CallbackDetails": details}
        ex.set_op(new)
        ex.callbacks.pop(op_id, None)
        ex.pending.discard(op_id)
        ex.updated_ids.append(op_id)
        op_event(ex.events, event_type, new, now, {key: data(value)})
        self._wake(ex)
        self._save(ex)

    def send_durable_execution_callback_success(
        self, CallbackId: str, Result: bytes | str | None = None
    ) -> dict[str, Any]:
        """Complete a callback with ``Result`` (stored as the UTF-8 text of the bytes, verbatim)."""
        self.calls["SendDurableExecutionCallbackSuccess"] += 1
        text: str | None = None
        if Result is not None:
            raw = Result.encode() if isinstance(Result, str) else bytes(Result)
            if len(raw) > self.limits.callback_result_bytes:
                raise invalid_parameter(
                    f"The callback Result is {len(raw)} bytes; at most {self.limits.callback_result_bytes} are allowed."
                )
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise invalid_parameter("The callback Result must be UTF-8 text.") from exc
        with self._lock:
            ex, op_id, op = self._open_callback(CallbackId)
            self._close_callback(ex, op_id, op, "SUCCEEDED", "CallbackSucceeded", "Result", text)
        return {}

    def send_durable_execution_callback_failure(
        self, CallbackId: str, Error: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Complete a callback with a failure (``Error`` is an ErrorObject)."""
        self.calls["SendDurableExecutionCallbackFailure"] += 1
        error = _check_error_object(Error, self.limits)
        with self._lock:
            ex, op_id, op = self._open_callback(CallbackId)
            self._close_callback(ex, op_id, op, "FAILED", "CallbackFailed", "Error", error)
        return {}

    def send_durable_execution_callback_heartbeat(self, CallbackId: str) -> dict[str, Any]:
        """Keep a callback alive: its heartbeat timeout starts again (no history event)."""
        self.calls["SendDurableExecutionCallbackHeartbeat"] += 1
        with self._lock:
            ex, op_id, _ = self._open_callback(CallbackId)
            deadlines = ex.callbacks[op_id]
            if deadlines[1]:
                deadlines[3] = self._now_ms() + deadlines[1] * 1000
                self._arm(ex, "callback_heartbeat", op_id, deadlines[3])
                self._save(ex)
        return {}

    # -- the other APIs -----------------------------------------------------------------------------------

    def stop_durable_execution(self, DurableExecutionArn: str, Error: dict[str, Any] | None = None) -> dict[str, Any]:
        """Stop a running execution (status STOPPED, an ExecutionStopped event)."""
        self.calls["StopDurableExecution"] += 1
        error = _check_error_object(Error, self.limits)
        with self._lock:
            ex = self._execution(DurableExecutionArn)
            if ex.status != RUNNING:
                raise invalid_parameter(f"Durable execution {DurableExecutionArn} is not running (status {ex.status}).")
            ex.error = error
            self._terminate(ex, "STOPPED", "ExecutionStopped", {"Error": data(error or {})})
            return {"StopTimestamp": _datetime(ex.end_ms or 0)}

    def get_durable_execution(self, DurableExecutionArn: str, IncludeExecutionData: bool = True) -> dict[str, Any]:
        """GetDurableExecution, boto3-shaped (timestamps as ``datetime``)."""
        return self.describe(DurableExecutionArn, include_data=IncludeExecutionData)

    def describe(
        self, arn: str, *, include_data: bool = True, timestamp: Callable[[int], Any] = _datetime
    ) -> dict[str, Any]:
        """GetDurableExecution with timestamps converted by ``timestamp`` (from epoch ms)."""
        self.calls["GetDurableExecution"] += 1
        with self._lock:
            return self._describe(self._execution(arn), include_data, timestamp)

    def _describe(self, ex: Execution, include: bool, timestamp: Callable[[int], Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "DurableExecutionArn": ex.arn,
            "DurableExecutionName": ex.name,
            "FunctionArn": naming.function_arn(ex.function_name, ex.region, ex.account, naming.LATEST),
            "Status": ex.status,
            "StartTimestamp": timestamp(ex.start_ms),
            "Version": naming.LATEST,
            "ExecutionDataIncluded": include,
            "DurableConfig": {"ExecutionTimeout": ex.timeout, "RetentionPeriodInDays": 30},
        }
        if include and ex.input_payload is not None:
            out["InputPayload"] = ex.input_payload
        if include and ex.result is not None:
            out["Result"] = ex.result
        if ex.error is not None and ex.status != "SUCCEEDED":
            out["Error"] = ex.error if include else {k: v for k, v in ex.error.items() if k == "ErrorType"}
        if ex.end_ms is not None:
            out["EndTimestamp"] = timestamp(ex.end_ms)
        else:
            out["ExpectedExecutionTimeoutTimestamp"] = timestamp(ex.start_ms + ex.timeout * 1000)
        return out

    def get_durable_execution_history(
        self,
        DurableExecutionArn: str,
        IncludeExecutionData: bool = True,
        MaxItems: int | None = None,
        Marker: str | None = None,
        ReverseOrder: bool = False,
    ) -> dict[str, Any]:
        """GetDurableExecutionHistory, boto3-shaped (timestamps as ``datetime``)."""
        return self.history(
            DurableExecutionArn,
            include_data=IncludeExecutionData,
            max_items=MaxItems,
            marker=Marker,
            reverse=ReverseOrder,
        )

    def history(
        self,
        arn: str,
        *,
        include_data: bool = True,
        max_items: int | None = None,
        marker: str | None = None,
        reverse: bool = False,
        timestamp: Callable[[int], Any] = _datetime,
    ) -> dict[str, Any]:
        """One page of GetDurableExecutionHistory, timestamps converted by ``timestamp`` (from epoch ms)."""
        include = include_data
        self.calls["GetDurableExecutionHistory"] += 1
        size = _page_size(max_items, 1000)
        start = _parse_marker(marker)
        with self._lock:
            ex = self._execution(arn)
            events = ex.events[::-1] if reverse else ex.events
            page = events[start : start + size]
            out: dict[str, Any] = {"Events": [render_event(e, include, timestamp) for e in page]}
            if start + size < len(events):
                out["NextMarker"] = str(start + size)
            return out

    def list_durable_executions_by_function(
        self,
        FunctionName: str,
        Qualifier: str | None = None,
        DurableExecutionName: str | None = None,
        Statuses: list[str] | None = None,
        StartedAfter: _dt.datetime | None = None,
        StartedBefore: _dt.datetime | None = None,
        ReverseOrder: bool = False,
        Marker: str | None = None,
        MaxItems: int | None = None,
    ) -> dict[str, Any]:
        """ListDurableExecutionsByFunction (newest first unless ``ReverseOrder``), boto3-shaped."""
        return self.list_executions(
            FunctionName,
            qualifier=Qualifier,
            name=DurableExecutionName,
            statuses=Statuses,
            started_after=StartedAfter,
            started_before=StartedBefore,
            reverse=ReverseOrder,
            marker=Marker,
            max_items=MaxItems,
        )

    def list_executions(
        self,
        function_name: str,
        *,
        qualifier: str | None = None,
        name: str | None = None,
        statuses: list[str] | None = None,
        started_after: _dt.datetime | None = None,
        started_before: _dt.datetime | None = None,
        reverse: bool = False,
        marker: str | None = None,
        max_items: int | None = None,
        timestamp: Callable[[int], Any] = _datetime,
    ) -> dict[str, Any]:
        """One page of ListDurableExecutionsByFunction, timestamps converted by ``timestamp``."""
        after, before = started_after, started_before
        self.calls["ListDurableExecutionsByFunction"] += 1
        target = naming.parse_function_target(function_name)
        size = _page_size(max_items, 1000)
        start = _parse_marker(marker)
        with self._lock:
            fn = self._function(target[0] if target else function_name)
            if qualifier not in (None, naming.LATEST):
                executions: list[Execution] = []
            else:
                executions = list(self._by_function.get(fn.name, ()))
            if not reverse:
                executions.reverse()
            after_ms = None if after is None else _ms(after.timestamp())
            before_ms = None if before is None else _ms(before.timestamp())
            selected = [
                ex
                for ex in executions
                if (name is None or ex.name == name)
                and (not statuses or ex.status in statuses)
                and (after_ms is None or ex.start_ms > after_ms)
                and (before_ms is None or ex.start_ms < before_ms)
            ]
            page = selected[start : start + size]
            items = []
            for ex in page:
                item: dict[str, Any] = {
                    "DurableExecutionArn": ex.arn,
                    "DurableExecutionName": ex.name,
                    "FunctionArn": naming.function_arn(ex.function_name, ex.region, ex.account, naming.LATEST),
                    "Status": ex.status,
                    "StartTimestamp": timestamp(ex.start_ms),
                }
                if ex.end_ms is not None:
                    item["EndTimestamp"] = timestamp(ex.end_ms)
                items.append(item)
            out: dict[str, Any] = {"DurableExecutions": items}
            if start + size < len(selected):
                out["NextMarker"] = str(start + size)
            return out

    def invoke(
        self,
        FunctionName: str,
        Payload: bytes | str | None = None,
        InvocationType: str = "RequestResponse",
        DurableExecutionName: str | None = None,
        Qualifier: str | None = None,
        TenantId: str | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Lambda ``Invoke``: starts an execution of a durable function (boto3-shaped response).

        ``RequestResponse`` drives the execution to its end and answers its result (``FunctionError``
        ``"Unhandled"`` and the error when it did not succeed); ``Event`` answers 202 at once. A plain
        function is simply called.
        """
        self.calls["Invoke"] += 1
        raw = Payload.encode() if isinstance(Payload, str) else (Payload or b"")
        if InvocationType not in ("RequestResponse", "Event", "DryRun"):
            raise invalid_parameter(f"Invalid InvocationType {InvocationType!r}.")
        limit = (
            self.limits.invoke_payload_bytes
            if InvocationType == "RequestResponse"
            else self.limits.async_invoke_payload_bytes
        )
        if len(raw) > limit:
            raise request_too_large(f"Request must be smaller than {limit} bytes for the Invoke operation.")
        target = naming.parse_function_target(FunctionName)
        with self._lock:
            fn = self._function(target[0] if target else FunctionName)
        if InvocationType == "DryRun":
            return {"StatusCode": 204, "Payload": b""}
        payload = raw.decode() if raw else None
        if not fn.durable:
            outcome = self._run_plain(fn, payload, TenantId)
            if InvocationType == "Event":
                return {"StatusCode": 202, "Payload": b""}
            return _invoke_response(outcome.output, outcome.error, None)
        arn = self.start_execution(fn.name, payload, name=DurableExecutionName, tenant_id=TenantId)
        if InvocationType == "Event":
            return {"StatusCode": 202, "Payload": b"", "DurableExecutionArn": arn}
        result = self.wait(arn, timeout=timeout)
        if result.status == "SUCCEEDED":
            return {
                "StatusCode": 200,
                "Payload": (result.result or "null").encode(),
                "ExecutedVersion": naming.LATEST,
                "DurableExecutionArn": arn,
            }
        error = result.error or {"ErrorType": result.status, "ErrorMessage": f"The execution ended {result.status}"}
        return _invoke_response(None, error, arn)

    def execution(self, arn: str) -> ExecutionResult:
        """Where execution ``arn`` stands now (status, result, error)."""
        with self._lock:
            return self._execution(arn).result_view()

    def executions(self) -> Iterator[ExecutionResult]:
        """Every execution the service knows, oldest first."""
        with self._lock:
            views = [ex.result_view() for ex in self._executions.values()]
        return iter(views)

    # -- resuming from a durable store --------------------------------------------------------------------

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


def _invoke_response(output: Any, error: dict[str, Any] | None, arn: str | None) -> dict[str, Any]:
    response: dict[str, Any] = {"StatusCode": 200, "ExecutedVersion": naming.LATEST}
    if arn is not None:
        response["DurableExecutionArn"] = arn
    if error is not None:
        response["FunctionError"] = "Unhandled"
        body = {"errorType": error.get("ErrorType"), "errorMessage": error.get("ErrorMessage")}
        response["Payload"] = json.dumps(body).encode()
    else:
        response["Payload"] = json.dumps(output).encode()
    return response


def _parse_marker(marker: Any) -> int:
    if marker is None or marker == "":
        return 0
    if not isinstance(marker, str) or not marker.isdigit():
        raise invalid_parameter(f"Invalid Marker {marker!r}.")
    return int(marker)


def _page_size(max_items: Any, cap: int) -> int:
    if max_items is None or max_items == 0:
        return min(100, cap)
    if type(max_items) is not int or not 0 < max_items <= 1000:
        raise invalid_parameter("MaxItems must be between 0 and 1000.")
    return min(max_items, cap)


def _check_error_object(error: Any, limits: Limits) -> dict[str, Any] | None:
    if error is None:
        return None
    if not isinstance(error, dict):
        raise invalid_parameter("Error must be an ErrorObject.")
    import orjson

    cleaned = {k: v for k, v in error.items() if k in ("ErrorType", "ErrorMessage", "ErrorData", "StackTrace")}
    if len(orjson.dumps(cleaned)) >= limits.error_bytes:
        raise invalid_parameter(f"Error object size must be less than {limits.error_bytes} bytes.")
    return cleaned
