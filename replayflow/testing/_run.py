"""``run(workflow, input)``: a workflow to its end on the local durable service, in virtual time.

The service is :class:`replayflow.local.LocalDurableService` with a :class:`~replayflow.local.VirtualClock`:
waits, retry delays and timeouts cost nothing. Step bodies really run (in this thread). Callbacks are
answered from the test, at chosen virtual times::

    result = run(approval_workflow, {"id": 7}, callbacks={"approval": succeed({"ok": True}, after=300)})

or step by step with :func:`start`::

    execution = start(approval_workflow, {"id": 7})
    execution.advance(minutes=5)
    execution.send_callback_success("approval", {"ok": True})
    result = execution.finish()
"""

from __future__ import annotations

import datetime as _dt
import difflib
import inspect
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

import attrs

from replayflow._errors import DurableExecutionError, ValidationError
from replayflow._handler import DurableHandler, durable
from replayflow._serdes import dumps
from replayflow._wire import OperationDict
from replayflow.local import LocalDurableService, VirtualClock

from ._equivalence import Checked, EquivalenceChecker
from ._history import EPOCH, ErrorLike, error_dict
from ._recorded import operations_from_events
from ._result import RunResult

__all__ = ["CallbackAction", "LocalExecution", "fail", "heartbeat", "run", "start", "succeed", "time_out"]

#: A number of seconds or a timedelta.
Seconds = float | _dt.timedelta

#: Real seconds per driving slice in :meth:`LocalExecution.finish`.


@attrs.frozen
class CallbackAction:
    """What the test does with a callback, ``after`` seconds (virtual) after the workflow created it."""

    kind: Literal["succeed", "fail", "heartbeat", "time_out"]
    after: float = 0.0
    value: Any = None  # the result to send, or the ErrorLike of a "fail"


def _seconds(value: Seconds) -> float:
    seconds = value.total_seconds() if isinstance(value, _dt.timedelta) else float(value)
    if seconds < 0:
        raise ValueError(f"a delay cannot be negative, got {seconds} s")
    return seconds


def succeed(result: object = None, *, after: Seconds = 0) -> CallbackAction:
    """Complete the callback with ``result``: a ``str`` or ``bytes`` is sent as is, anything else as JSON."""
    return CallbackAction("succeed", _seconds(after), result)


def fail(error: ErrorLike = "the callback failed", *, after: Seconds = 0) -> CallbackAction:
    """Fail the callback with ``error`` (an exception, a message, or an ErrorObject dict)."""
    return CallbackAction("fail", _seconds(after), error)


def heartbeat(*, after: Seconds = 0) -> CallbackAction:
    """Send one heartbeat (which restarts the callback's heartbeat timeout)."""
    return CallbackAction("heartbeat", _seconds(after))


def time_out() -> CallbackAction:
    """Never answer: the callback's own timeout (or heartbeat timeout) fires, in virtual time."""
    return CallbackAction("time_out")


class LocalExecution:
    """An execution on a local durable service, driven step by step from the test.

    Nothing happens between calls: :meth:`advance` lets virtual time go by (running what falls due),
    :meth:`settle` runs what can run now, ``send_callback_*`` answer callbacks by name, :meth:`finish`
    drives the execution to its end. Close it (or use it as a context manager) when the service is ours.
    """

    def __init__(
        self,
        service: LocalDurableService,
        arn: str,
        *,
        owned: bool,
        timeout: float,
        checker: EquivalenceChecker | None = None,
    ) -> None:
        self.service = service
        self.arn = arn
        self._owned = owned
        self._timeout = timeout
        self._heartbeats: dict[str, int] = {}
        #: The replay-equivalence checker watching this execution's invocations (``None`` when turned off).
        self.checker = checker

    # -- time --------------------------------------------------------------------------------------------

    @property
    def clock(self) -> VirtualClock:
        clock = self.service.clock
        if not isinstance(clock, VirtualClock):
            raise TypeError("the toolkit drives services with a VirtualClock")
        return clock

    @property
    def now(self) -> _dt.datetime:
        """The service's virtual time."""
        return _dt.datetime.fromtimestamp(self.clock.now(), _dt.UTC)

    def settle(self) -> LocalExecution:
        """Run everything that can run at the current virtual time."""
        return self.advance(0)

    def advance(self, seconds: Seconds = 0, *, minutes: float = 0, hours: float = 0, days: float = 0) -> LocalExecution:
        """Let virtual time go by, firing the timers that fall due and running the invocations they cause."""
        total = _seconds(seconds) + 60 * minutes + 3600 * hours + 86400 * days
        self.service.advance(total)
        self._check()
        return self

    def _check(self) -> None:
        """Raise :class:`~replayflow.ReplayDivergenceError` if an invocation or a replay diverged."""
        if self.checker is not None:
            self.checker.raise_if_diverged()

    # -- state -------------------------------------------------------------------------------------------

    @property
    def status(self) -> str:
        """``RUNNING``, ``SUCCEEDED``, ``FAILED``, ``TIMED_OUT`` or ``STOPPED``."""
        return self.service.execution(self.arn).status

    def snapshot(self) -> RunResult:
        """The execution as it stands now (possibly still ``RUNNING``)."""
        return snapshot(self.service, self.arn)

    def callback_id(self, name: str, index: int = 0) -> str:
        """The id of the callback named ``name`` (or created by ``wait_for_callback(name=...)``).

        Callbacks of durable child executions (``ctx.invoke`` of a durable function) are found too.
        """
        current = self.snapshot()
        names = (name, f"{name} create callback id")
        matches = [op for op in _callbacks(self.service, current) if op.get("Name") in names]
        if len(matches) > index:
            return str((matches[index].get("CallbackDetails") or {}).get("CallbackId", ""))
        return current.get_callback(name, index).callback_id or ""  # raises, listing what there is

    # -- callbacks ---------------------------------------------------------------------------------------

    def send_callback_success(self, name: str, result: object = None, *, index: int = 0) -> LocalExecution:
        """Complete the callback ``name`` with ``result`` (``str``/``bytes`` as is, else JSON), then settle."""
        self.service.send_durable_execution_callback_success(
            CallbackId=self.callback_id(name, index), Result=_callback_result(result)
        )
        return self.settle()

    def send_callback_failure(
        self, name: str, error: ErrorLike = "the callback failed", *, index: int = 0
    ) -> LocalExecution:
        """Fail the callback ``name`` with ``error``, then settle."""
        self.service.send_durable_execution_callback_failure(
            CallbackId=self.callback_id(name, index), Error=dict(error_dict(error))
        )
        return self.settle()

    def send_callback_heartbeat(self, name: str, *, index: int = 0) -> LocalExecution:
        """Send a heartbeat for the callback ``name``."""
        callback_id = self.callback_id(name, index)
        self.service.send_durable_execution_callback_heartbeat(CallbackId=callback_id)
        self._heartbeats[callback_id] = round(self.clock.now() * 1000)
        return self

    def answer_callbacks(self, callbacks: Mapping[str, CallbackAction | Sequence[CallbackAction]]) -> LocalExecution:
        """Answer callbacks by name as they are created, until the execution ends or waits on nothing else.

        ``callbacks`` maps a callback's name to an action or a list of actions, as for :func:`run`.
        """
        _answer(self.settle(), callbacks)
        return self

    # -- the end -----------------------------------------------------------------------------------------

    def finish(self, *, timeout: float | None = None) -> RunResult:
        """Drive the execution to its end (virtual time jumps to each timer) and return the result.

        ``timeout`` bounds the real time spent (default: the one given to :func:`start`).
        """
        self._finish_now(self._timeout if timeout is None else timeout)
        self._check()
        return self.snapshot()

    def _finish_now(self, timeout: float) -> None:
        try:
            self.service.wait(self.arn, timeout=timeout)
        except TimeoutError:
            raise TimeoutError(
                f"the execution was still running after {timeout} s of real time; is a step body blocked?"
            ) from None

    def close(self) -> None:
        """Close the service if this execution created it."""
        if self._owned:
            self._owned = False
            self.service.close()

    def __enter__(self) -> LocalExecution:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- scheduled answers -------------------------------------------------------------------------------

    def next_timer_ms(self, result: RunResult) -> int | None:
        """When the service's next timer for this execution (or a child execution) falls due, epoch ms."""
        return _next_timer(self.service, result, self._heartbeats)


def start(
    workflow: Callable[..., Any],
    input: object = None,
    *,
    functions: Mapping[str, Callable[..., Any]] | None = None,
    service: LocalDurableService | None = None,
    name: str | None = None,
    execution_timeout: int | None = None,
    at: _dt.datetime = EPOCH,
    timeout: float = 60.0,
    check_replay: bool = True,
) -> LocalExecution:
    """Start ``workflow`` (a ``@durable`` handler or a workflow function) on a local service; run what can run.

    ``functions`` registers chained-invoke targets by name: ``@durable`` handlers run as child executions,
    other callables are plain Lambda functions called with the payload (``fn(payload)`` or
    ``fn(payload, context)``). ``service`` reuses a service (default: a new one whose virtual clock starts
    at ``at``). ``timeout`` bounds the real time spent driving it.

    ``check_replay`` (default on) runs the replay-equivalence checker: every invocation is traced (what
    the workflow was sent or had thrown into it at each ``yield``, and what it yielded next), the history
    is replayed from scratch after each invocation, and any difference from the first run raises
    :class:`~replayflow.ReplayDivergenceError` from the call that drove it.
    """
    owned = service is None
    svc = service if service is not None else LocalDurableService(clock=VirtualClock(start=at.timestamp()))
    checker = EquivalenceChecker() if check_replay else None
    try:
        function_name = _register(svc, workflow, name, checker, execution_timeout)
        _register_targets(svc, functions or {})
        payload = None if input is None else dumps(input)
        arn = svc.start_execution(function_name, payload)
    except BaseException:
        if owned:
            svc.close()
        raise
    execution = LocalExecution(svc, arn, owned=owned, timeout=timeout, checker=checker)
    try:
        return execution.settle()
    except BaseException:
        execution.close()
        raise


def run(
    workflow: Callable[..., Any],
    input: object = None,
    *,
    callbacks: Mapping[str, CallbackAction | Sequence[CallbackAction]] | None = None,
    functions: Mapping[str, Callable[..., Any]] | None = None,
    service: LocalDurableService | None = None,
    name: str | None = None,
    execution_timeout: int | None = None,
    at: _dt.datetime = EPOCH,
    timeout: float = 60.0,
    check_replay: bool = True,
) -> RunResult:
    """Run ``workflow`` with ``input`` to its end on a local durable service with virtual time.

    ``callbacks`` answers callbacks by name (a ``wait_for_callback``'s name works too; callbacks of durable
    functions it invokes count) with an action, or a
    list of actions (heartbeats, then an answer), for every callback of that name: each acts ``after``
    seconds of virtual time after the workflow created the callback (:func:`succeed`, :func:`fail`,
    :func:`heartbeat`, :func:`time_out`). Other options as for :func:`start` (``check_replay=False``
    turns the replay-equivalence checker off).
    """
    execution = start(
        workflow,
        input,
        functions=functions,
        service=service,
        name=name,
        execution_timeout=execution_timeout,
        at=at,
        timeout=timeout,
        check_replay=check_replay,
    )
    with execution:
        if callbacks:
            execution.answer_callbacks(callbacks)
        return execution.finish()


def snapshot(service: LocalDurableService, arn: str) -> RunResult:
    """The execution ``arn`` as ``service`` reports it now."""
    events: list[Mapping[str, Any]] = []
    marker: str | None = None
    while True:
        page = service.get_durable_execution_history(DurableExecutionArn=arn, MaxItems=1000, Marker=marker)
        events.extend(page["Events"])
        marker = page.get("NextMarker")
        if not marker:
            break
    description = service.get_durable_execution(DurableExecutionArn=arn)
    operations, _, _ = operations_from_events(events)
    return RunResult(
        arn=arn,
        status=description["Status"],
        result_payload=description.get("Result"),
        error=description.get("Error"),
        events=tuple(events),
        operations=tuple(operations),
        execution=description,
        usage=service.usage(arn),
    )


# -- answering callbacks at chosen virtual times ------------------------------------------------------------


def _answer(execution: LocalExecution, plans: Mapping[str, CallbackAction | Sequence[CallbackAction]]) -> None:
    answers = _Answers(plans)
    scheduled = answers.scheduled
    while execution.status == "RUNNING":
        current = execution.snapshot()
        answers.schedule(_callbacks(execution.service, current))
        now = round(execution.clock.now() * 1000)
        if scheduled and scheduled[0][0] <= now:
            _, _, callback_id, action = scheduled.pop(0)
            _act(execution, callback_id, action)
            continue
        next_timer = execution.next_timer_ms(current)
        candidates = [t for t in (scheduled[0][0] if scheduled else None, next_timer) if t is not None]
        if not candidates:
            break  # nothing will happen but the execution timeout: finish() reports how it ends
        execution.advance(max(min(candidates) - now, 0) / 1000)
    _check_names(set(answers.actions) - answers.used, answers.unplanned)


class _Answers:
    """The planned answers of a run's callbacks, and those scheduled once their callback was created."""

    def __init__(self, plans: Mapping[str, CallbackAction | Sequence[CallbackAction]]) -> None:
        self.actions = {
            key: (plan,) if isinstance(plan, CallbackAction) else tuple(plan) for key, plan in plans.items()
        }
        self.handled: set[str] = set()
        self.used: set[str] = set()  # the names in ``plans`` that answered a callback
        self.unplanned: set[str] = set()  # names of callbacks created with no plan
        self.scheduled: list[tuple[int, int, str, CallbackAction]] = []  # (due ms, order, callback id, action)

    def schedule(self, callbacks: Iterable[OperationDict]) -> None:
        """Schedule the answers of the callbacks created since the last call, in due order."""
        scheduled = self.scheduled
        for op in callbacks:
            if op["Id"] in self.handled or op["Status"] != "STARTED":
                continue
            self.handled.add(op["Id"])
            key = _plan_key(op.get("Name"), self.actions)
            if key is None:
                self.unplanned.add(_callback_name(op.get("Name")))
                continue
            self.used.add(key)
            created = int(op.get("StartTimestamp") or 0)
            callback_id = (op.get("CallbackDetails") or {}).get("CallbackId", "")
            for action in self.actions[key]:
                if action.kind != "time_out":
                    scheduled.append((created + round(action.after * 1000), len(scheduled), callback_id, action))
        scheduled.sort(key=lambda item: item[:2])


def _check_names(unused: set[str], unplanned: set[str]) -> None:
    """A name in ``callbacks`` that answered nothing while a callback went unanswered: a misspelling."""
    if not unused or not unplanned:
        return
    created = ", ".join(repr(name) for name in sorted(unplanned))
    hints = []
    for name in sorted(unused):
        close = difflib.get_close_matches(name, sorted(unplanned), n=1, cutoff=0.6)
        hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    raise ValidationError(
        f"callbacks= names {', '.join(hints)}, but no callback of that name was created; the execution "
        f"created callbacks named {created}, which nobody answered"
    )


def _callback_name(name: str | None) -> str:
    return (name or "").removesuffix(" create callback id") or "(unnamed)"


def _plan_key(name: str | None, actions: Mapping[str, tuple[CallbackAction, ...]]) -> str | None:
    """The key of ``actions`` that answers the callback ``name`` (a ``wait_for_callback``'s name works too)."""
    if name is None:
        return None
    if name in actions:
        return name
    short = name.removesuffix(" create callback id")
    return short if short in actions else None


def _callbacks(service: LocalDurableService, result: RunResult) -> list[OperationDict]:
    """The CALLBACK operations of an execution and of its durable child executions (chained invokes)."""
    found = [op for op in result.operations if op["Type"] == "CALLBACK"]
    for child in _child_executions(service, result):
        found += _callbacks(service, child)
    return found


def _child_executions(service: LocalDurableService, result: RunResult) -> list[RunResult]:
    """The durable executions that ``result``'s chained invokes started, as they stand now."""
    children = []
    for event in result.events:
        details = event.get("ChainedInvokeStartedDetails") or {}
        if event["EventType"] == "ChainedInvokeStarted" and details.get("DurableExecutionArn"):
            children.append(snapshot(service, details["DurableExecutionArn"]))
    return children


def _act(execution: LocalExecution, callback_id: str, action: CallbackAction) -> None:
    service = execution.service
    try:
        if action.kind == "succeed":
            service.send_durable_execution_callback_success(
                CallbackId=callback_id, Result=_callback_result(action.value)
            )
        elif action.kind == "fail":
            service.send_durable_execution_callback_failure(
                CallbackId=callback_id, Error=dict(error_dict(action.value))
            )
        elif action.kind == "heartbeat":
            service.send_durable_execution_callback_heartbeat(CallbackId=callback_id)
            execution._heartbeats[callback_id] = round(execution.clock.now() * 1000)
    except DurableExecutionError as exc:  # the callback timed out (or its execution ended) first
        if "closed" not in str(exc) and "ended" not in str(exc):
            raise
    execution.settle()


def _callback_result(value: object) -> bytes | str | None:
    if value is None or isinstance(value, str | bytes):
        return value
    return dumps(value)


def _next_timer(service: LocalDurableService, result: RunResult, heartbeats: Mapping[str, int]) -> int | None:
    """The earliest timer of the execution (and of its child executions) still to fire, from its history.

    The execution timeout is left out: :meth:`LocalExecution.advance` deals with it.
    """
    now = round(service.clock.now() * 1000)
    due: list[int] = []
    for child in _child_executions(service, result):
        if child.status == "RUNNING":
            nested = _next_timer(service, child, heartbeats)
            if nested is not None:
                due.append(nested)
    for op in result.operations:
        due.extend(_timers_of(op, result, heartbeats))
    if result.status != "RUNNING":
        return None
    retry = _reinvocation_due(service, result)
    if retry is not None:
        due.append(retry)
    later = [t for t in due if t > now]
    return min(later) if later else None


def _timers_of(op: OperationDict, result: RunResult, heartbeats: Mapping[str, int]) -> Iterable[int]:
    """When the timers of one operation fire: a wait's end, a step's next attempt, a callback's deadlines."""
    status, details = op["Status"], _details(op)
    if op["Type"] == "WAIT" and status == "STARTED" and details.get("ScheduledEndTimestamp"):
        return (int(details["ScheduledEndTimestamp"]),)
    if op["Type"] == "STEP" and status == "PENDING" and details.get("NextAttemptTimestamp"):
        return (int(details["NextAttemptTimestamp"]),)
    if op["Type"] == "CALLBACK" and status == "STARTED":
        return _callback_deadlines(op, result, heartbeats)
    return ()


def _reinvocation_due(service: LocalDurableService, result: RunResult) -> int | None:
    """When the service re-invokes after failed invocations (a crash, say), from the history; epoch ms."""
    failures, ended = 0, None
    for event in result.events:
        if event["EventType"] == "InvocationCompleted":
            details = event.get("InvocationCompletedDetails") or {}
            failures = failures + 1 if details.get("Error") else 0
            ended = _ms(details.get("EndTimestamp") or event.get("EventTimestamp"))
    if not failures or ended is None:
        return None
    return ended + round(service.invocation_retry.delay(failures) * 1000)


def _callback_deadlines(op: Mapping[str, Any], result: RunResult, heartbeats: Mapping[str, int]) -> Iterable[int]:
    started = next((e for e in result.events if e.get("Id") == op["Id"] and e["EventType"] == "CallbackStarted"), None)
    if started is None:
        return ()
    details = started.get("CallbackStartedDetails") or {}
    at = _ms(started.get("EventTimestamp")) or 0
    out = []
    if details.get("Timeout"):
        out.append(at + int(details["Timeout"]) * 1000)
    if details.get("HeartbeatTimeout"):
        last = heartbeats.get(details.get("CallbackId", ""), at)
        out.append(last + int(details["HeartbeatTimeout"]) * 1000)
    return out


def _details(op: Mapping[str, Any]) -> Mapping[str, Any]:
    for key, value in op.items():
        if key.endswith("Details") and isinstance(value, Mapping):
            return value
    return {}


def _ms(value: object) -> int | None:
    if isinstance(value, _dt.datetime):
        return round(value.timestamp() * 1000)
    if isinstance(value, int | float):
        return round(value * 1000) if value < 100_000_000_000 else int(value)
    return None


def _register(
    svc: LocalDurableService,
    workflow: Callable[..., Any],
    name: str | None,
    checker: EquivalenceChecker | None,
    execution_timeout: int | None,
) -> str:
    """Register the workflow (traced by ``checker`` when it checks replays); its function name."""
    handler = workflow if isinstance(workflow, DurableHandler) else durable(workflow)
    function_name = name or _function_name(handler.workflow)
    registered = handler if checker is None else Checked(handler, checker, svc)
    svc.register(function_name, registered, execution_timeout=execution_timeout)
    return function_name


def _register_targets(svc: LocalDurableService, functions: Mapping[str, Callable[..., Any]]) -> None:
    """Register chained-invoke targets: ``@durable`` handlers as durable functions, the rest as plain ones."""
    for target, fn in functions.items():
        if isinstance(fn, DurableHandler):
            svc.register(target, fn)
        else:
            svc.register(target, _plain(fn), durable=False)


def _function_name(fn: object) -> str:
    name = re.sub(r"[^a-zA-Z0-9_-]", "-", getattr(fn, "__name__", "") or "")[:64].strip("-")
    return name or "workflow"


def _plain(fn: Callable[..., Any]) -> Callable[[object, object], object]:
    """A chained-invoke target as Lambda calls it: ``handler(event, context)``."""
    try:
        params = [
            p
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        return fn
    if len(params) >= 2:
        return fn

    def handler(event: object, context: object) -> object:
        return fn(event)

    return handler
