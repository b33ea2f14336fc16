"""The replay engine: drives workflow generators over the checkpointed history.

A workflow, a child context and every parallel/map branch is a *frame*: a generator plus the *scope* that
names its operations. The interpreter drives frames cooperatively on one thread. Each value a frame
yields is an operation descriptor; the interpreter hands it the frame (``op.run(interpreter, frame)``: the
contract and its exits are in ``_ops/base.py``), and the descriptor either returns the operation's result
at once (replay, or a step run inline), raises ``Throw`` to raise an error into the frame, or returns
``BLOCKED`` after arranging for the frame to be resumed later: when a child frame finishes, when a step
body running on a worker thread completes, or when the service reports a change to an operation (a wait
elapsed, a callback arrived...).

When no frame can move and no step body is running, everything still queued is checkpointed and the
invocation suspends: the handler returns PENDING and the service re-invokes the function later (the handler
first closes the frames still suspended, ``Interpreter.end``: nothing of the invocation outlives it). While
step bodies are running, a frame parked on a timer (a wait, a step's retry delay, a condition's poll delay)
need not sit out the rest of the invocation: when the timer is due, an empty checkpoint asks the service
what changed, and the frame resumes if the wait is over or the next attempt is READY.

Replay comes first: while any frame may still replay recorded operations (it is ready to run), no frame
starts new work, neither an operation without a record nor another attempt of a body; it waits, and goes
on once every frame has replayed what it can. So a frame whose code no longer matches the history stops
the invocation (``NonDeterminismError``) before another frame's new step body could run.

Step bodies run inline on the interpreter's thread unless another frame could make progress meanwhile;
then they go to a thread pool, so branches of a parallel really run at the same time. Replay itself never
touches a thread, a lock or a copy.
"""

from __future__ import annotations

import collections
import contextvars
import heapq
import queue
import threading
import time
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, Final, Protocol

from orjson import loads as _orjson_loads

from . import _unyielded
from ._errors import (
    DurableExecutionError,
    InvalidEventError,
    NonDeterminismError,
    SerDesError,
    ServiceError,
    TokenRevoked,
)
from ._event_check import check_claimed, check_read
from ._hooks import OperationInfo
from ._ids import ROOT_IDS as _ROOT_IDS
from ._ids import blake2b as _blake2b
from ._ids import operation_id, root_id
from ._logging import DurableLogger
from ._ops.base import BLOCKED, DurableOperation, Throw, check_name
from ._ops.step import DefaultSerdesStep as _DefaultSerdesStep
from ._serdes import DEFAULT_SERDES, SHORT_PAYLOAD, SerDesContext
from ._serdes import LONG_NUMBER as _LONG_NUMBER
from ._serdes import loads as _loads
from ._signal import Signal
from ._wire import OperationDict, OperationUpdateDict

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    from ._async import EventLoopThread
    from ._checkpoint import Checkpointer
    from ._context import DurableContext
    from ._envelope import PayloadFormat
    from ._gc_pause import GcPause
    from ._hooks import Hooks

__all__ = ["BLOCKED", "TRACER", "Frame", "Interpreter", "Park", "Scope", "SideEffectPolicy", "Throw"]

#: The tracer of ``replayflow.testing``'s replay-equivalence checker for the invocations run in this context
#: (``None``: nothing is traced). An interpreter reads it once; ``tracer.wrap(gen, scope)`` then wraps each
#: frame's generator, so an untraced invocation pays nothing per operation.
TRACER: contextvars.ContextVar[Any] = contextvars.ContextVar("replayflow_tracer", default=None)


class _Later:
    """Returned by a :meth:`Interpreter.wait_for` resume function to go on with the operation when the
    frame's turn comes (not while a checkpoint answer is being merged): ``fn()`` returns the value to send,
    raises :class:`Throw`, or returns ``BLOCKED`` (a retry that starts a new attempt, say)."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn


class _Deferred:
    """A ready-queue entry: ``op`` (new work) waited for replay to end in every frame; run it now."""

    __slots__ = ("op",)

    def __init__(self, op: Any) -> None:
        self.op = op


class Park(Exception):
    """Raised when the :class:`SideEffectPolicy` declines new work: the frame stops at this operation.

    ``action`` is ``"start"`` (an operation with no record) or ``"attempt"`` (another attempt of a step
    body or condition check). The interpreter hands it to :meth:`SideEffectPolicy.stopped` and drives the
    frame no further.
    """

    __slots__ = ("action", "attempt", "op_id")

    def __init__(self, op_id: str, action: str, attempt: int = 1) -> None:
        self.op_id = op_id
        self.action = action
        self.attempt = attempt


class SideEffectPolicy(Protocol):
    """Whether new work runs: asked before an operation with no record starts and before a side effect runs.

    Production interpreters have none (everything runs). ``replayflow.testing.replay`` injects one that
    declines everything and records where each frame stopped.
    """

    def allows(self, op_id: str, action: str, attempt: int) -> bool:
        """Whether to go on with ``action`` (``"start"`` or ``"attempt"``) of operation ``op_id``."""
        ...

    def stopped(self, op: DurableOperation[Any], park: Park, frame: Frame) -> None:
        """The frame stopped at ``op``, the operation the policy declined."""
        ...


class Scope:
    """The id namespace of a context: the root, a child context or a branch.

    ``prefix`` is the owning operation's id (``None`` at the root) and ``parent_id`` the ``ParentId`` that
    operations created here carry (the prefix, except in FLAT branches where it is the batch operation).
    The scope computes the *next* id ahead of time, which tells whether the code now running has run
    before (``replaying``: the history already holds the next operation).
    """

    __slots__ = ("counter", "label", "next_id", "parent_id", "prefix", "records")

    def __init__(
        self, records: dict[str, OperationDict], prefix: str | None, parent_id: str | None, label: str
    ) -> None:
        self.records = records
        self.prefix = prefix
        self.parent_id = parent_id
        self.label = label
        self.counter = 0
        self.next_id = operation_id(prefix, 1)

    @property
    def replaying(self) -> bool:
        """Whether the code running now ran before: the history already holds this scope's next operation."""
        return self.next_id in self.records

    def position(self, n: int | None = None) -> str:
        return f"operation #{self.counter if n is None else n} of {self.label}"


class Frame:
    """One generator being driven, with the scope its operations belong to."""

    __slots__ = ("cancel", "closed", "gen", "on_done", "scope")

    def __init__(
        self,
        gen: Generator[Any, Any, Any],
        scope: Scope,
        on_done: Callable[[Frame, bool, Any], None],
        cancel: threading.Event,
    ) -> None:
        self.gen = gen
        self.scope = scope
        self.on_done = on_done
        self.cancel = cancel
        self.closed = False

    def shut(self) -> None:
        """Mark the frame closed and close its generator (``GeneratorExit`` at its ``yield``). A failing
        ``finally`` block in user code is ignored: the frame is gone either way."""
        self.closed = True
        try:  # noqa: SIM105 - contextlib.suppress costs half a microsecond per frame (8k parked at 16k items)
            self.gen.close()
        except Exception:
            pass

    def location(self) -> str | None:
        """``file:line`` where the innermost user generator is suspended (``yield from op`` counts as the
        user's line, not the operation's own one-line ``__iter__``)."""
        gen: Any = self.gen
        while True:
            inner = getattr(gen, "gi_yieldfrom", None)
            if inner is None or getattr(inner, "gi_frame", None) is None or inner.gi_code is _OPERATION_ITER:
                break
            gen = inner
        frame = getattr(gen, "gi_frame", None)
        if frame is None:
            return None
        return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def _dropped(frame: Frame, ok: bool, value: Any) -> None:
    """The ``on_done`` of a frame the invocation let go (:meth:`Interpreter.end`)."""


class Interpreter:
    """Drives one invocation's frames; see the module docstring."""

    # (``__weakref__``: replay-safe values keep per-invocation counters in a WeakKeyDictionary)
    __slots__ = (
        "__weakref__",
        "_cancellations",
        "_children",
        "_completions",
        "_deferred",
        "_done",
        "_error",
        "_frames",
        "_inflight",
        "_log_target",
        "_logger",
        "_pool",
        "_ready",
        "_refresh_backoff",
        "_refresh_not_before",
        "_replaying",
        "_result",
        "_timer_ids",
        "_timers",
        "_waiting",
        "arn",
        "at_new_work",
        "built_at",
        "cancel_deadline",
        "checkpointer",
        "context_class",
        "event_loop",
        "gc_pause",
        "hooks",
        "lambda_context",
        "log_replay",
        "max_workers",
        "payload_format",
        "pipelined",
        "records",
        "shutdown",
        "side_effects",
        "start_checkpoint_delay",
        "trace_builds",
        "tracer",
        "unyielded",
    )
    #: finished step bodies' outcomes, put by the pool's threads: made with the pool (``run_side_effect``)
    _completions: queue.SimpleQueue[tuple[Frame, Callable[[bool, Any], Any], bool, Any]]

    def __init__(
        self,
        *,
        records: dict[str, OperationDict],
        arn: str,
        checkpointer: Checkpointer,
        hooks: Hooks,
        log_target: Any,
        context_class: Callable[[Interpreter, Scope], DurableContext],
        lambda_context: Any = None,
        max_workers: int = 32,
        log_replay: bool = False,
        side_effects: SideEffectPolicy | None = None,
        start_checkpoint_delay: float = 0.1,
        pipelined: bool = False,
    ) -> None:
        self.records = records
        self.arn = arn
        #: the handler-wide serdes (a ``replayflow.PayloadFormat``), set by the handler; None: the defaults
        self.payload_format: PayloadFormat | None = None
        self.checkpointer = checkpointer
        self.hooks = hooks
        self._log_target = log_target  # ``logger`` wraps it, when first asked for
        self._logger: DurableLogger | None = None
        self.context_class = context_class
        self.lambda_context = lambda_context
        self.log_replay = log_replay
        self.start_checkpoint_delay = start_checkpoint_delay
        #: Pipelined checkpoints by default: at-least-once steps start while finished work is still being
        #: checkpointed (see :meth:`before_side_effect`).
        self.pipelined = pipelined
        #: Asked before new work starts and before side effects run (``None``: everything runs).
        self.side_effects = side_effects
        #: The handler's hold on the garbage collector's pause for replay, given back at the first new work.
        self.gc_pause: GcPause | None = None
        #: Called once, at the first new work (the handler arms the Lambda deadline's alarm: replay alone has
        #: nothing to tell to stop), and the alarm's cancel.
        self.at_new_work: Callable[[Interpreter], None] | None = None
        self.cancel_deadline: Callable[[], None] | None = None
        self.shutdown: threading.Event = Signal()
        self._cancellations: list[threading.Event] = []
        self._children: dict[int, list[threading.Event]] = {}  # signal -> the signals derived from it
        self.max_workers = max_workers
        self._ready: collections.deque[tuple[Frame, Any, BaseException | None]] = collections.deque()
        #: the frames spawned and not yet finished or closed (an ordered set): :meth:`end` closes them
        self._frames: dict[Frame, None] = {}
        #: Replay may not be over in every frame yet: new work waits in ``_deferred`` while frames are ready.
        self._replaying = True
        self._deferred: list[tuple[Frame, Any, BaseException | None]] = []
        self._waiting: dict[str, list[tuple[Frame, Callable[[OperationDict], Any]]]] = {}
        self._inflight = 0
        # (due epoch ms or _NO_DUE, op id) for the WAITs and retrying steps frames park on; an entry is
        # pushed whenever one is parked or changes, and stale ones are dropped when they reach the top
        self._timers: list[tuple[int, str]] = []
        self._timer_ids: set[str] = set()
        self._refresh_not_before = 0.0  # epoch seconds
        self._refresh_backoff = 1.0
        self._pool: ThreadPoolExecutor | None = None
        #: the asyncio loop thread of ``async def`` step bodies (``_async.py``), started on first use
        self.event_loop: EventLoopThread | None = None
        self._done = False
        self._result: Any = None
        self._error: BaseException | None = None
        self.tracer: Any = TRACER.get()
        #: the last operation ``ctx`` built that no frame has yielded yet (see ``_unyielded.py``)
        self.unyielded: object = None
        #: mode "error": record where each operation is built (``built_at``), for exact reports
        self.trace_builds = _unyielded.mode() == "error"
        self.built_at: str | None = None
        checkpointer.on_update = self._on_update

    @property
    def logger(self) -> DurableLogger:
        """The invocation's logger: every record carries ``executionArn`` (made on first use)."""
        logger = self._logger
        if logger is None:
            logger = self._logger = DurableLogger(self._log_target, {"executionArn": self.arn})
        return logger

    def make_context(self, scope: Scope) -> DurableContext:
        """The ``ctx`` of ``scope``: the workflow's, a child context's or a branch's."""
        return self.context_class(self, scope)

    # -- driving ------------------------------------------------------------------------------------------

    def run(self, gen: Generator[Any, Any, Any], scope: Scope) -> tuple[str, Any]:
        """Drive ``gen`` until it finishes or nothing can move.

        Returns ``("SUCCEEDED", value)``, ``("FAILED", exception)`` or ``("PENDING", None)``. Errors that
        must not reach user code (non-determinism, service errors...) propagate.
        """
        try:
            self.spawn(gen, scope, self._root_done)
            ready = self._ready
            while not self._done:
                if ready:
                    frame, value, exc = ready.popleft()
                    if not frame.closed:
                        self._drive(frame, value, exc)
                elif self._deferred:  # every frame has replayed what it can: the new work waiting goes on
                    self._replaying = False
                    ready.extend(self._deferred)
                    self._deferred.clear()
                elif not self._wait_for_work():
                    return ("PENDING", None)
        finally:
            self._stop_workers()
            if self.event_loop is not None:
                self.event_loop.close()
                self.event_loop = None
        if self._error is not None:
            return ("FAILED", self._error)
        return ("SUCCEEDED", self._result)

    def _wait_for_work(self) -> bool:
        """No frame is ready: wait for a step body, a due timer or the service; ``False``: nothing can move."""
        checkpointer = self.checkpointer
        if self._inflight:
            if checkpointer.has_service_work:
                checkpointer.flush()  # start timers and invokes now, not when the steps finish
            elif checkpointer.has_completions:
                if self._take_completion(block=False):
                    return True  # what has finished is taken first, and checkpointed together
                # what finished is made durable now, not when the slowest body still running ends: a crash
                # meanwhile would lose it (an at-least-once step would run again, an at-most-once one fail)
                self.before_side_effect()
            if not self._take_completion(block=True, timeout=self._refresh_delay()):
                self._refresh()
            return True
        if checkpointer.pending or checkpointer.has_received:
            checkpointer.flush()
            return True
        return False

    def _root_done(self, frame: Frame, ok: bool, value: Any) -> None:
        self._done = True
        if ok:
            self._result = value
        else:
            self._error = value

    def _drive(self, frame: Frame, value: Any, exc: BaseException | None) -> None:  # noqa: PLR0915 - hot path
        if value.__class__ is _Later:
            value, exc = _go_on(value)
            if value is BLOCKED:
                return
        elif value.__class__ is _Deferred:
            started = self._start(frame, value.op)
            if started is None:
                return
            value, exc = started
        gen = frame.gen
        send = gen.send
        scope = frame.scope
        get = self.records.get
        parent_id, root = scope.parent_id, not scope.prefix  # fixed for the scope's life
        step_class, loads, short, root_ids = _DefaultSerdesStep, _orjson_loads, _SHORT_PAYLOAD, _ROOT_IDS
        while True:
            try:
                if exc is None:
                    op = send(value)
                else:
                    error, exc = exc, None
                    op = gen.throw(error)
            except StopIteration as stop:
                self._finish(frame, True, stop.value)
                return
            except Exception as error:
                self._finish(frame, False, error)
                return
            # (self.unyielded is read twice, not kept in a local: _unyielded.dropped() counts its references)
            if self.unyielded is not op and self.unyielded is not None:  # it yields something else
                exc, value = _unyielded.before_yield(self, frame), None
                if exc is not None:
                    continue
            self.unyielded = None
            # The replay fast path: a step with the default serdes (its class: DefaultSerdesStep) whose record
            # SUCCEEDED, matches it (Type, SubType, ParentId, Name) and holds plain JSON is resolved here, as
            # Step.run would (claim, identity check, decode), without its call. Anything else (no record,
            # another status, a mismatch, a field missing or not a string, a payload that decode() must read)
            # changes nothing here and takes op.run below, which says what is wrong. (The tests are written
            # as "if any differs: pass, else: ..." so that every comparison's jump is short: CPython 3.11
            # specializes a comparison only when its jump needs no EXTENDED_ARG.)
            if op.__class__ is step_class and (rec := get(scope.next_id)) is not None:
                try:
                    if (
                        rec["Status"] != "SUCCEEDED"
                        or rec["Type"] != "STEP"
                        or rec["SubType"] != "Step"
                        or rec.get("Name") != op[3]
                        or ((parent := rec.get("ParentId")) is not parent_id and parent != parent_id)
                    ):
                        pass
                    else:
                        payload = rec["StepDetails"].get("Result")
                        if payload is None:
                            value = None
                        elif len(payload) >= short and _long_number(payload):
                            raise ValueError  # a number orjson would read differently from decode()
                        else:
                            value = loads(payload)
                            if value.__class__ is dict and "t" in value:
                                raise ValueError  # maybe an official SDK envelope: decode() reads it
                        # Interpreter.claim's id allocation, inline
                        scope.counter = n = scope.counter + 1
                        if root:
                            try:
                                scope.next_id = root_ids[n + 1]
                            except IndexError:
                                scope.next_id = root_id(n + 1)
                        else:
                            scope.next_id = _blake2b(f"{scope.prefix}-{n + 1}".encode()).hexdigest()[:64]
                        continue
                except (KeyError, AttributeError, TypeError, ValueError):
                    pass
            if self._replaying and get(scope.next_id) is None and self._must_wait(frame, _Deferred(op)):
                return  # new work, while other frames may still replay
            started = self._start(frame, op)
            if started is None:
                return
            value, exc = started

    def _start(self, frame: Frame, op: Any) -> tuple[Any, BaseException | None] | None:
        """Hand ``op`` the frame: ``(value, None)`` to send, ``(None, error)`` to raise, ``None``: it waits."""
        try:
            run = op.run
        except AttributeError:
            return None, _not_an_operation(op)
        try:
            value = run(self, frame)
        except Throw as throw:
            return None, throw.error
        except Park as park:
            if self.side_effects is not None:
                self.side_effects.stopped(op, park, frame)
            return None
        except _ABORTS:
            raise
        except Exception as error:  # user code run while starting the operation (a namer, a serdes...)
            check_claimed(self.records, frame.scope, error)  # ...or a malformed record: that ends the invocation
            return None, error
        if value is BLOCKED:
            return None
        return value, None

    def _must_wait(self, frame: Frame, entry: Any) -> bool:
        """New work in ``frame``: while other frames are ready (they may replay yet, and find the code
        changed), it waits (``entry`` goes back on the ready queue once none is); else replay is over."""
        if self._ready and self.side_effects is None:  # (a dry run stops at new work anyway)
            self._deferred.append((frame, entry, None))
            return True
        self._replaying = False
        return False

    def _finish(self, frame: Frame, ok: bool, value: Any) -> None:
        frame.closed = True
        self._frames.pop(frame, None)
        if self.unyielded is not None or (ok and isinstance(value, DurableOperation)):
            ok, value = _unyielded.at_end(self, frame, ok, value)
        scope = frame.scope
        if scope.replaying:
            rec = self.records[scope.next_id]
            raise NonDeterminismError(
                f"Non-deterministic execution: {scope.label} "
                f"{'returned' if ok else 'raised ' + type(value).__name__} after {scope.counter} "
                f"operation(s), but the history recorded more: operation #{scope.counter + 1} "
                f"(id {scope.next_id}, {describe_record(rec)}). The code changed under a running execution.",
                operation_id=scope.next_id,
                position=scope.position(scope.counter + 1),
                name=rec.get("Name"),
                recorded=describe_record(rec),
                attempted="nothing (the code finished)",
            )
        frame.on_done(frame, ok, value)

    # -- services for operations -----------------------------------------------------------------------------

    def spawn(
        self,
        gen: Generator[Any, Any, Any],
        scope: Scope,
        on_done: Callable[[Frame, bool, Any], None],
        cancel: threading.Event | None = None,
    ) -> Frame:
        """Start driving ``gen`` (soon, from the ready queue).

        ``cancel`` is the signal its step bodies watch (default: the invocation's shutdown signal).
        """
        if self.tracer is not None:
            gen = self.tracer.wrap(gen, scope)
        frame = Frame(gen, scope, on_done, self.shutdown if cancel is None else cancel)
        self._frames[frame] = None
        self._ready.append((frame, None, None))
        return frame

    def new_cancellation(self, parent: threading.Event | None = None) -> threading.Event:
        """A cancellation signal set when ``parent`` is (default: the shutdown signal) or on its own."""
        event = Signal()
        parent = parent or self.shutdown
        if parent.is_set():
            event.set()
        self._cancellations.append(event)
        self._children.setdefault(id(parent), []).append(event)
        return event

    def _cancel(self, event: threading.Event) -> None:
        event.set()
        for child in self._children.pop(id(event), ()):
            self._cancel(child)

    def begin_shutdown(self) -> None:
        """The invocation is ending (deadline near): tell every running step body, start nothing new."""
        self.shutdown.set()
        for event in self._cancellations:
            event.set()

    def resume(self, frame: Frame, value: Any = None, error: BaseException | None = None) -> None:
        """Continue ``frame`` with ``value`` (or raise ``error`` into it)."""
        self._ready.append((frame, value, error))

    def close(self, frame: Frame) -> None:
        """Abandon a frame (an orphaned branch): its step bodies are cancelled, their results dropped."""
        if frame.cancel is not self.shutdown:
            self._cancel(frame.cancel)
        if not frame.closed:
            del self._frames[frame]
            frame.shut()

    def end(self) -> None:
        """The invocation is over: the frames still suspended (on a wait, a callback, a retry, an invoke, a
        batch) are closed as abandoned branches are, innermost first, and let go. Reference counting then
        frees them, their contexts and this interpreter at once. (A suspended frame's generator holds its
        ``ctx``, which holds the interpreter, which held the frame: a cycle that outlived the invocation
        until a collection found it, maybe in the middle of the next invocation, and closed it then.)"""
        self._waiting.clear()  # (its resume callbacks, as the queues' entries, refer back to the interpreter)
        self._ready.clear()
        self._deferred.clear()
        frames, self._frames = self._frames, {}
        for frame in reversed(frames):  # (a branch was spawned after its parent)
            frame.on_done = _dropped  # a batch's bookkeeping refers back through it
            frame.shut()  # (unlike close: no step body runs any more, no signal to cancel)

    def claim(
        self, frame: Frame, op_type: str, sub_type: str | None, name: str | None
    ) -> tuple[str, OperationDict | None]:
        """Allocate the frame's next operation id and return ``(id, record or None)``.

        A record that exists must have been written by the same operation: same Type, SubType, Name and
        ParentId. Anything else is a :class:`NonDeterminismError` (never a silent skip).
        """
        # allocate the scope's next id (and compute the one after): this runs once per operation on replay
        scope = frame.scope
        op_id = scope.next_id
        scope.counter = n = scope.counter + 1
        prefix = scope.prefix
        if prefix:
            scope.next_id = _blake2b(f"{prefix}-{n + 1}".encode()).hexdigest()[:64]
        else:
            scope.next_id = _ROOT_IDS[n + 1] if n + 1 < len(_ROOT_IDS) else root_id(n + 1)
        rec = self.records.get(op_id)
        if rec is None:
            if name:
                check_name(name)  # new work only: a recorded name was accepted by the service
            if self.side_effects is not None and not self.side_effects.allows(op_id, "start", 1):
                raise Park(op_id, "start")
            if self.gc_pause is not None or self.at_new_work is not None:
                self._new_work_starts()
            return op_id, None
        check_read(rec, op_id)
        recorded_name = rec.get("Name")
        if (
            rec.get("Type") != op_type
            or rec.get("SubType") != sub_type
            or rec.get("ParentId") != scope.parent_id
            or (recorded_name != name and (recorded_name or None) != (name or None))
        ):
            raise self.mismatch(frame, op_id, rec, op_type, sub_type, name)
        return op_id, rec

    def _new_work_starts(self) -> None:
        """The first new work (an operation with no record, or a body run again): replay is over."""
        if self.gc_pause is not None:  # new work may make cyclic garbage again
            self.gc_pause.release()
            self.gc_pause = None
        hook, self.at_new_work = self.at_new_work, None
        if hook is not None:
            hook(self)

    def mismatch(
        self, frame: Frame, op_id: str, rec: OperationDict, op_type: str, sub_type: str | None, name: str | None
    ) -> NonDeterminismError:
        scope = frame.scope
        recorded = describe_record(rec)
        attempted = describe(op_type, sub_type, name, scope.parent_id)
        location = frame.location()
        where = f" at {location}" if location else ""
        return NonDeterminismError(
            f"Non-deterministic execution: {scope.position()} (id {op_id}) was recorded as {recorded}, "
            f"but the code now yields {attempted}{where}. The code changed under a running execution; "
            f"deploy changes as a new version, or keep the order, types and names of operations.",
            operation_id=op_id,
            position=scope.position(),
            name=name,
            recorded=recorded,
            attempted=attempted,
            location=location,
        )

    def enqueue(self, update: OperationUpdateDict) -> None:
        """Queue a checkpoint update (sent at the next flush, in order)."""
        self.checkpointer.add(update)

    def flush(self) -> None:
        """Send everything queued now (and merge what the service answers)."""
        self.checkpointer.flush()

    def before_side_effect(self, pipelined: bool | None = None) -> None:
        """Make finished work durable before user code with side effects runs.

        ``pipelined`` (default: the invocation's setting): hand it to the background sender instead and go
        on at once; a crash before the service acknowledges it runs the steps it records again.
        """
        checkpointer = self.checkpointer
        if (self.pipelined if pipelined is None else pipelined) and not checkpointer.has_barrier:
            if checkpointer.has_completions:
                checkpointer.send_in_background()
        elif checkpointer.has_completions or checkpointer.sending:
            checkpointer.flush()

    def barrier(self) -> None:
        """What is queued now is made durable before the next side effect runs, even a pipelined one."""
        self.checkpointer.has_barrier = True

    def waiting_on(self) -> list[str]:
        """Ids of the operations that parked frames wait for the service to change."""
        return [op_id for op_id, waiters in self._waiting.items() if any(not f.closed for f, _ in waiters)]

    def wait_for(self, frame: Frame, op_id: str, resume: Callable[[OperationDict], Any], *, timer: bool = False) -> Any:
        """Park ``frame`` until the service changes ``op_id``; then ``resume(record)`` decides.

        ``resume`` returns the value to send, raises :class:`Throw`, or returns ``BLOCKED`` to keep waiting.
        ``timer``: ``op_id`` is a WAIT, which the interpreter checks on when it is due (see :meth:`run`).
        """
        self._waiting.setdefault(op_id, []).append((frame, resume))
        if timer:
            self._timer_ids.add(op_id)
            heapq.heappush(self._timers, (_due(self.records.get(op_id)), op_id))
        return BLOCKED

    def wait_for_ready(self, frame: Frame, op_id: str, then: Callable[[OperationDict], Any]) -> Any:
        """Park ``frame`` on a step waiting for its next attempt (PENDING: a retry or poll delay).

        When the service makes it READY, ``then(record)`` goes on with the operation on the frame's turn
        (returning the value to send, raising :class:`Throw`, or returning ``BLOCKED``). The delay is a
        timer the interpreter checks on when it is due, like a WAIT's.
        """

        def resume(rec: OperationDict) -> Any:
            if rec["Status"] != "READY":
                return BLOCKED
            return _Later(lambda: then(rec))

        return self.wait_for(frame, op_id, resume, timer=True)

    def _on_update(self, op_id: str) -> None:
        waiters = self._waiting.pop(op_id, None)
        if not waiters:
            return
        rec = self.records[op_id]
        for frame, resume in waiters:
            if frame.closed:
                continue
            try:
                value = resume(rec)
            except Throw as throw:
                self.resume(frame, None, throw.error)
                continue
            if value is BLOCKED:
                self._waiting.setdefault(op_id, []).append((frame, resume))
            else:
                self.resume(frame, value)
        if op_id in self._timer_ids and op_id in self._waiting:  # still waited on: the due time may be new
            heapq.heappush(self._timers, (_due(rec), op_id))

    def run_side_effect(
        self,
        frame: Frame,
        work: Callable[[], Any],
        finish: Callable[[bool, Any], Any],
        op_id: str = "",
        attempt: int = 1,
    ) -> Any:
        """Run user code with side effects (a step body) and hand its outcome to ``finish``.

        ``finish(ok, value_or_error)`` runs on the interpreter thread and returns what to send to the frame
        (or raises ``Throw`` / returns ``BLOCKED``). ``work`` runs inline when nothing else could move
        meanwhile, otherwise on a worker thread.
        """
        if self.side_effects is not None and not self.side_effects.allows(op_id, "attempt", attempt):
            raise Park(op_id, "attempt", attempt)
        if self._replaying and self._must_wait(
            frame, _Later(lambda: self.run_side_effect(frame, work, finish, op_id, attempt))
        ):
            return BLOCKED  # another attempt of a recorded body: new work too
        if self.gc_pause is not None or self.at_new_work is not None:
            self._new_work_starts()  # a body that ran before and runs again (a retry) is new work too
        checkpointer, delay = self.checkpointer, self.start_checkpoint_delay
        # A body still running after a moment gets its START checkpointed without waiting for its result. The
        # moment counts from the body's start to its end: not the time it queued for a worker thread, nor the
        # time its outcome waits for the interpreter (a large map's quick bodies would all flush their STARTs).
        if not self._ready and not self._inflight and not (self._timers and self._timer_waiters()):
            cancel = checkpointer.flush_soon(delay)
            try:
                outcome = work()
            except Exception as error:
                cancel()
                return finish(False, error)
            cancel()
            return finish(True, outcome)
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor  # only workflows with concurrent branches need it

            self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="replayflow-step")
            self._completions = queue.SimpleQueue()  # made with the pool: only its threads put on it
        self._inflight += 1
        completions = self._completions

        def task() -> None:  # (on a worker thread; nothing queued: this body's START has left already)
            cancel = checkpointer.flush_soon(delay)
            try:
                outcome = (frame, finish, True, work())
            except BaseException as error:
                outcome = (frame, finish, False, error)
            cancel()
            completions.put(outcome)

        self._pool.submit(contextvars.copy_context().run, task)  # ContextVars set by the workflow, as inline
        return BLOCKED

    def _take_completion(self, *, block: bool, timeout: float | None = None) -> bool:
        """Hand a finished step body's outcome to its frame; ``False`` if none came within ``timeout``."""
        try:
            frame, finish, ok, value = self._completions.get(block=block, timeout=timeout)
        except queue.Empty:
            return False
        self._inflight -= 1
        if frame.closed:
            return True
        if not ok and not isinstance(value, Exception):
            raise value
        try:
            result = finish(ok, value)
        except Throw as throw:
            self.resume(frame, None, throw.error)
            return True
        if result is not BLOCKED:
            self.resume(frame, result)
        return True

    # -- waits that end while step bodies run -------------------------------------------------------------------

    def _refresh_delay(self) -> float | None:
        """Seconds until the earliest timer a parked frame waits for is due (``None``: no such timer)."""
        if self.shutdown.is_set() or not self._timer_waiters():
            return None
        due = self._timers[0][0]
        if due == _NO_DUE:
            return None
        now = time.time()
        return max(due / 1000 - now, self._refresh_not_before - now, 0.0)

    def _timer_waiters(self) -> bool:
        """Whether a frame is parked on a timer; the earliest one is then at the top of :attr:`_timers`.

        Entries whose operation nobody waits for any more, or whose due time changed since (a newer entry
        was pushed), are popped here: each entry is pushed and popped once, so the cost per item is flat.
        """
        timers, waiting, records = self._timers, self._waiting, self.records
        while timers:
            due, op_id = timers[0]
            if due == _due(records.get(op_id)) and any(not frame.closed for frame, _ in waiting.get(op_id, ())):
                return True
            heapq.heappop(timers)
        return False

    def _refresh(self) -> None:
        """Ask the service what changed (an empty checkpoint); back off while its timer has not fired yet."""
        parked = len(self._ready)
        self.checkpointer.flush(refresh=True)  # merging the answer resumes the frames whose wait is over
        if len(self._ready) > parked:
            self._refresh_backoff = 1.0
        else:
            self._refresh_not_before = time.time() + self._refresh_backoff
            self._refresh_backoff = min(self._refresh_backoff * 2, 60.0)

    def _stop_workers(self) -> None:
        if self._pool is None:
            return
        self.begin_shutdown()
        while self._inflight:
            self._completions.get()
            self._inflight -= 1
        self._pool.shutdown(wait=True)
        self._pool = None

    # -- hooks and logs -----------------------------------------------------------------------------------------

    def operation_started(self, frame: Frame, op_id: str, op_type: str, sub_type: str | None, name: str | None) -> None:
        if self.hooks.active:
            self.hooks.emit("on_operation_start", self.info(frame, op_id, op_type, sub_type, name))

    def operation_ended(
        self,
        frame: Frame,
        op_id: str,
        op_type: str,
        sub_type: str | None,
        name: str | None,
        status: str,
        error: BaseException | None,
    ) -> None:
        if self.hooks.active:
            info = self.info(frame, op_id, op_type, sub_type, name)
            self.hooks.emit("on_operation_end", info, status, error)

    def info(self, frame: Frame, op_id: str, op_type: str, sub_type: str | None, name: str | None) -> OperationInfo:
        return OperationInfo(self.arn, op_id, op_type, sub_type, name, frame.scope.parent_id)

    # -- payloads ---------------------------------------------------------------------------------------------

    def serdes_context(self, op_id: str) -> SerDesContext:
        return SerDesContext(op_id, self.arn)

    def decode(self, serdes: Any, payload: str | None, op_id: str, what: object) -> Any:
        """Deserialize a recorded payload; a payload that cannot be read aborts with ``SerDesError``.

        ``what`` names the operation in the error (a string, or an object with ``describe()``).
        """
        if payload is None:
            return None
        try:
            if serdes is DEFAULT_SERDES:  # the common case: plain JSON, no context needed
                value = _loads(payload)
                if type(value) is not dict or "t" not in value:
                    return value
                # maybe an official SDK envelope: the default serdes reads it
            return serdes.deserialize(payload, SerDesContext(op_id, self.arn))
        except DurableExecutionError as exc:
            if isinstance(exc, SerDesError):
                raise type(exc)(f"cannot read the recorded result of {_describe(what)} (id {op_id}): {exc}") from exc
            raise
        except Exception as exc:
            raise SerDesError(f"cannot read the recorded result of {_describe(what)} (id {op_id}): {exc}") from exc


_SHORT_PAYLOAD: Final = SHORT_PAYLOAD
_long_number = _LONG_NUMBER.search

#: Errors that end the invocation instead of being raised into the workflow.
_ABORTS: tuple[type[BaseException], ...] = (
    NonDeterminismError,
    SerDesError,
    ServiceError,
    TokenRevoked,
    InvalidEventError,  # a malformed record, found when an operation reads it
)


def _go_on(later: _Later) -> tuple[Any, BaseException | None]:
    """Run a :class:`_Later` on its frame's turn: ``(value to send, None)`` or ``(None, error to raise)``."""
    try:
        return later.fn(), None
    except Throw as throw:
        return None, throw.error
    except _ABORTS:
        raise
    except Exception as failure:
        return None, failure


#: The due time of a timer the service has not scheduled yet (sorts after every real one).
_NO_DUE: Final = 2**62


def _due(rec: OperationDict | None) -> int:
    """When the service's timer for a started WAIT or a PENDING step falls due (epoch ms), or ``_NO_DUE``."""
    if rec is None:
        return _NO_DUE
    status = rec.get("Status")
    if status == "STARTED":
        end = (rec.get("WaitDetails") or {}).get("ScheduledEndTimestamp")
    elif status == "PENDING":
        end = (rec.get("StepDetails") or {}).get("NextAttemptTimestamp")
    else:
        return _NO_DUE
    return end if isinstance(end, int) else _NO_DUE


_OPERATION_ITER = DurableOperation.__iter__.__code__


def _not_an_operation(op: object) -> TypeError:
    return TypeError(f"a workflow must yield operations built by ctx (ctx.step(...), ctx.wait(...), ...); got {op!r}")


def _describe(what: object) -> str:
    describe_op = getattr(what, "describe", None)
    return str(describe_op()) if callable(describe_op) else str(what)


def describe(op_type: str | None, sub_type: str | None, name: str | None, parent_id: str | None) -> str:
    text = f"{op_type or '?'}/{sub_type or '-'}"
    text += f" named {name!r}" if name else " (unnamed)"
    if parent_id:
        text += f" under parent {parent_id[:12]}..."
    return text


def describe_record(rec: OperationDict) -> str:
    return describe(rec.get("Type"), rec.get("SubType"), rec.get("Name"), rec.get("ParentId")) + (
        f" [{rec.get('Status')}]"
    )
