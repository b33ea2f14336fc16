"""``replay(workflow, history)``: run the real interpreter over a history, with no service at all.

Nothing the workflow does reaches the outside world: the interpreter runs with a side-effect policy that
declines all new work (step bodies do not run) and a transport that records the checkpoints instead of
sending them (``_dry_run.py``).
Frames stop at their next new work; the report says what that work is, or how the workflow ended, or
where the code departed from the history. Microseconds for small histories: no threads, no I/O.
"""

from __future__ import annotations

import ast
import contextlib
import re
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

import attrs

from replayflow._checkpoint import Checkpointer
from replayflow._errors import InvalidEventError, NonDeterminismError, SerDesError
from replayflow._handler import DurableHandler, find_execution
from replayflow._hooks import Hooks
from replayflow._interpreter import Interpreter
from replayflow._serdes import JsonSerDes
from replayflow._wire import OperationDict

from ._diff import diff
from ._dry_run import DryRun, RecordingTransport
from ._history import UNSET, History
from ._next import NextOperation, describe_planned
from ._recorded import HistorySource, RecordedHistory, load_history
from ._result import RunResult, kind_label

__all__ = ["Outcome", "ReplayReport", "WaitingOperation", "replay"]

OutcomeName = Literal["completed", "failed", "suspended", "non-determinism"]


class Outcome(str):
    """How a replay ended: ``"completed"``, ``"failed"``, ``"suspended"`` or ``"non-determinism"``.

    A plain string that remembers its report, so that ``assert report.outcome == "completed"`` failing
    under pytest shows the whole report (see the plugin).
    """

    __slots__ = ("report",)
    report: ReplayReport


@attrs.frozen
class WaitingOperation:
    """A recorded operation a suspended workflow waits for (a timer, a callback, an invoke, a retry)."""

    operation_id: str
    type: str
    sub_type: str | None
    name: str | None
    status: str

    def __str__(self) -> str:
        kind = kind_label(self.type, self.sub_type)
        return f"{kind} {self.name!r} ({self.status})" if self.name else f"{kind} (unnamed, {self.status})"


@attrs.frozen(eq=False)
class ReplayReport:
    """What a workflow does over a history: how it ended, or what it would do next."""

    workflow: str
    outcome: Outcome
    #: The workflow's return value (``outcome == "completed"``).
    result: Any
    #: The error the workflow failed with, or the NonDeterminismError.
    error: BaseException | None
    #: The operations it would start now, in the order the interpreter reached them.
    next_operations: tuple[NextOperation, ...]
    #: Recorded operations it is suspended on.
    waiting_on: tuple[WaitingOperation, ...]
    #: The checkpoint updates this invocation would send (completed contexts, retries...).
    updates: tuple[Mapping[str, Any], ...]
    #: The history replayed.
    operations: tuple[OperationDict, ...] = attrs.field(repr=False)

    @property
    def non_determinism(self) -> NonDeterminismError | None:
        """The NonDeterminismError, when the code departed from the history."""
        return self.error if isinstance(self.error, NonDeterminismError) else None

    @property
    def next_names(self) -> list[str | None]:
        """Names of :attr:`next_operations`, in order."""
        return [n.name for n in self.next_operations]

    def next(self, name: str | None = None, *, kind: str | None = None) -> NextOperation:
        """The next operation named ``name`` (and of ``kind``); a readable AssertionError if there is none."""
        for candidate in self.next_operations:
            if (name is None or candidate.name == name) and (kind is None or candidate.kind == kind):
                return candidate
        wanted = " ".join(x for x in (kind or "operation", repr(name) if name is not None else "") if x)
        raise AssertionError(f"the workflow would not start a {wanted} next.\n{self.explain()}")

    # -- assertions ------------------------------------------------------------------------------------------

    def assert_completed(self, result: object = UNSET) -> Any:
        """Assert the workflow completed (with ``result`` if given); returns the result."""
        self._expect("completed")
        if result is not UNSET and self.result != result:
            raise AssertionError(f"{diff(result, self.result, label='the workflow result')}\n\n{self.explain()}")
        return self.result

    def assert_failed(
        self, error_type: type[BaseException] | str | None = None, match: str | None = None
    ) -> BaseException:
        """Assert the workflow failed, with an error of ``error_type`` whose message matches ``match`` (regex)."""
        self._expect("failed")
        error = self.error
        assert error is not None
        if error_type is not None and not _is_error(error, error_type):
            raise AssertionError(
                f"the workflow failed with {_type_names(error)}, not {_name(error_type)}: {error}\n\n{self.explain()}"
            )
        if match is not None and not re.search(match, str(error)):
            raise AssertionError(f"the error message {str(error)!r} does not match {match!r}\n\n{self.explain()}")
        return error

    def assert_suspended(self, *, waiting_on: Iterable[str] | None = None) -> None:
        """Assert the workflow suspended (waiting on operations named ``waiting_on``, if given)."""
        self._expect("suspended")
        if waiting_on is not None:
            expected = sorted(waiting_on)
            actual = sorted(w.name or w.operation_id for w in self.waiting_on)
            if expected != actual:
                raise AssertionError(f"{diff(expected, actual, label='waiting on')}\n\n{self.explain()}")

    def assert_non_determinism(self, name: str | None = None, match: str | None = None) -> NonDeterminismError:
        """Assert the code departed from the history (at the operation named ``name``; message matching ``match``)."""
        self._expect("non-determinism")
        error = self.non_determinism
        assert error is not None
        involved = {error.name, *(_named(text) for text in (error.recorded, error.attempted))}
        if name is not None and name not in involved:
            raise AssertionError(f"the non-determinism is not about {name!r}: {error}")
        if match is not None and not re.search(match, str(error)):
            raise AssertionError(f"the non-determinism message does not match {match!r}: {error}")
        return error

    def assert_next_step(
        self,
        name: str | None,
        args: Any = UNSET,
        kwargs: Any = UNSET,
        *,
        attempt: int | None = None,
        function: Callable[..., Any] | None = None,
    ) -> NextOperation:
        """Assert the workflow would run the step ``name`` next (with these ``args``/``kwargs``/``attempt``)."""
        fields: dict[str, object] = {}
        if args is not UNSET:
            fields["args"] = tuple(args)
        if kwargs is not UNSET:
            fields["kwargs"] = dict(kwargs)
        if attempt is not None:
            fields["attempt"] = attempt
        if function is not None:
            fields["function"] = function
        return self.assert_next("step", name, **fields)

    def assert_next(self, kind: str, name: object = UNSET, /, **fields: object) -> NextOperation:
        """Assert the workflow would start a ``kind`` operation (named ``name``) whose fields equal ``fields``.

        ``report.assert_next("wait", "cool-off", seconds=300)``; ``report.assert_next("invoke",
        function_name="billing", payload={...})``. Returns the operation.
        """
        candidates = self._next_of_kind(kind, name)
        for candidate in candidates:
            if not _mismatched(candidate, fields):
                return candidate
        first = candidates[0]
        text = "\n".join(diff(expected, actual, label=key) for key, expected, actual in _mismatched(first, fields))
        raise AssertionError(f"next {first.describe()}\n{text}\n\n{self.explain()}")

    def _next_of_kind(self, kind: str, name: object) -> list[NextOperation]:
        """The next operations of ``kind`` (named ``name`` unless UNSET); there must be one."""
        if self.outcome not in ("suspended", "completed", "failed"):
            raise AssertionError(f"expected a next {kind}, but the replay ended in {self.outcome}.\n\n{self.explain()}")
        candidates = [n for n in self.next_operations if n.kind == kind and (name is UNSET or n.name == name)]
        if not candidates:
            label = f"{kind} {name!r}" if name is not UNSET else kind
            raise AssertionError(f"the workflow would not start a {label} next.\n\n{self.explain()}")
        return candidates

    def _expect(self, outcome: str) -> None:
        if self.outcome != outcome:
            raise AssertionError(
                f"expected the replay to end {outcome}, but it ended {self.outcome}.\n\n{self.explain()}"
            )

    # -- reading ---------------------------------------------------------------------------------------------

    def explain(self) -> str:
        """The report as readable text."""
        ops = len(self.operations)
        lines = [f"replay of {self.workflow} over {ops} recorded operation{'s' if ops != 1 else ''}: {self.outcome}"]
        if self.outcome == "completed":
            lines.append(f"  result: {self.result!r}")
        elif self.outcome == "failed":
            lines.append(f"  error: {_type_names(self.error)}: {self.error}")
        elif self.outcome == "non-determinism":
            lines.append(f"  {self.error}")
        if self.next_operations:
            lines.append("next operations:")
            lines.extend(f"  {i}. {n.describe()}" for i, n in enumerate(self.next_operations, 1))
        if self.waiting_on:
            lines.append("waiting on:")
            lines.extend(f"  - {w}" for w in self.waiting_on)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.explain()


def _named(description: str | None) -> str | None:
    """The name in an operation description such as ``STEP/Step named 'charge' [SUCCEEDED]``."""
    match = re.search(r"named ('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")", description or "")
    if match is None:
        return None
    return str(ast.literal_eval(match.group(1)))


def _is_error(error: BaseException, expected: type[BaseException] | str) -> bool:
    if isinstance(expected, type):
        return isinstance(error, expected) or getattr(error, "error_type", None) == _qualified(expected)
    names = {_qualified(c) for c in type(error).__mro__} | {c.__name__ for c in type(error).__mro__}
    recorded = getattr(error, "error_type", None)
    return expected in names or recorded == expected or (recorded or "").rsplit(".", 1)[-1] == expected


def _qualified(cls: type[BaseException]) -> str:
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _name(expected: type[BaseException] | str) -> str:
    return expected.__name__ if isinstance(expected, type) else expected


def _type_names(error: BaseException | None) -> str:
    name = type(error).__name__
    recorded = getattr(error, "error_type", None)
    return f"{name} ({recorded})" if recorded and recorded.rsplit(".", 1)[-1] != name else name


# -- driving the interpreter ---------------------------------------------------------------------------------


def replay(
    workflow: Callable[..., Any],
    history: History | RecordedHistory | RunResult | HistorySource,
    *,
    input: object = UNSET,
    log_replay: bool = False,
) -> ReplayReport:
    """Replay ``workflow`` (a ``@durable`` handler or a workflow function) over ``history``.

    ``history`` is a :class:`History`, a :class:`RecordedHistory`, a :class:`RunResult` (a local run), or
    anything :func:`load_history` reads (a JSON file path, JSON text, a list of operations, a state or
    history dump, an invocation event).
    ``input`` replaces the input recorded in the history. Returns a :class:`ReplayReport`.
    """
    handler = _replay_handler(workflow)
    arn, operations = _operations(history)
    records: dict[str, OperationDict] = {op["Id"]: op for op in operations}
    if input is not UNSET:
        _set_input(arn, records, operations, input)
    sent = RecordingTransport()
    dry_run = DryRun()
    checkpointer = Checkpointer(sent, arn, "dry-run", records)
    it = handler.interpreter(
        records, arn, checkpointer, side_effects=dry_run, hooks=Hooks(), log_replay=log_replay or None
    )
    outcome, result, error = _run_dry(handler, it, arn, records)
    checkpointer.flush()
    checkpointer.stop()
    try:
        return _report(it, dry_run, sent, _workflow_name(handler.workflow), outcome, result, error, operations)
    finally:
        it.end()  # as an invocation ends: the frames still suspended are closed (their finally blocks run)


def _replay_handler(workflow: Callable[..., Any]) -> DurableHandler[Any]:
    """The handler ``replay`` drives: ``workflow`` itself, or a default one for a workflow function."""
    if isinstance(workflow, DurableHandler):
        return workflow
    if not callable(workflow):
        raise TypeError(f"replay needs a workflow function or a @durable handler, got {workflow!r}")
    return _handler_of(workflow)


def _run_dry(
    handler: DurableHandler[Any], it: Interpreter, arn: str, records: dict[str, OperationDict]
) -> tuple[str, Any, BaseException | None]:
    """``(outcome, result, error)`` of running the workflow once over its records."""
    try:
        try:
            execution: OperationDict = find_execution(arn, records)
        except InvalidEventError:
            execution = {}
        status, value = handler.run_workflow(it, execution)
    except NonDeterminismError as exc:
        return "non-determinism", None, exc
    except (SerDesError, InvalidEventError) as exc:
        return "failed", None, exc
    if status == "FAILED":
        return "failed", None, value
    if status != "SUCCEEDED":
        return "suspended", None, None
    try:
        handler.result_serdes.serialize(value, None)  # as the handler does: an unserializable result fails
    except SerDesError as exc:
        return "failed", None, exc
    return "completed", value, None


def _mismatched(candidate: NextOperation, fields: Mapping[str, object]) -> list[tuple[str, object, object]]:
    """``(field, expected, actual)`` of each field of ``candidate`` that differs from ``fields``."""
    return [(k, v, getattr(candidate, k)) for k, v in fields.items() if getattr(candidate, k) != v]


def _report(
    it: Interpreter,
    dry_run: DryRun,
    sent: RecordingTransport,
    name: str,
    outcome: str,
    result: Any,
    error: BaseException | None,
    operations: Sequence[OperationDict],
) -> ReplayReport:
    records = it.records
    next_ops = tuple(describe_planned(p, records) for p in dry_run.planned if not p.abandoned)
    waiting = []
    for op_id in it.waiting_on():
        rec = records.get(op_id) or {}
        waiting.append(
            WaitingOperation(op_id, rec.get("Type", "?"), rec.get("SubType"), rec.get("Name"), rec.get("Status", "?"))
        )
    marker = Outcome(outcome)
    report = ReplayReport(
        workflow=name,
        outcome=marker,
        result=result,
        error=error,
        next_operations=next_ops,
        waiting_on=tuple(waiting),
        updates=tuple(sent.updates),
        operations=tuple(operations),
    )
    marker.report = report
    return report


def _operations(history: History | RecordedHistory | RunResult | HistorySource) -> tuple[str, list[OperationDict]]:
    """The ARN and the operations of any history ``replay`` accepts."""
    if isinstance(history, History):
        return history.arn, history._records()
    if isinstance(history, RunResult):
        recorded = load_history({"Execution": history.execution, "Events": list(history.events)})
    else:
        recorded = history if isinstance(history, RecordedHistory) else load_history(history)
    return recorded.arn, list(recorded.operations)


_HANDLERS: weakref.WeakKeyDictionary[Callable[..., Any], DurableHandler[Any]] = weakref.WeakKeyDictionary()


def _handler_of(fn: Callable[..., Any]) -> DurableHandler[Any]:
    """A default handler for a plain workflow function (cached: reading its type hints is slow)."""
    try:
        return _HANDLERS[fn]
    except (KeyError, TypeError):
        pass
    handler: DurableHandler[Any] = DurableHandler(fn)
    with contextlib.suppress(TypeError):
        _HANDLERS[fn] = handler
    return handler


def _set_input(arn: str, records: dict[str, OperationDict], operations: list[OperationDict], value: object) -> None:
    payload = JsonSerDes().serialize(value)
    try:
        execution = find_execution(arn, records)
    except InvalidEventError:
        execution = {"Id": arn.rsplit("/", 1)[-1], "Type": "EXECUTION", "Status": "STARTED"}
        operations.insert(0, execution)
    updated: OperationDict = {**execution, "ExecutionDetails": {"InputPayload": payload}}
    records[updated["Id"]] = updated
    for i, op in enumerate(operations):
        if op["Id"] == updated["Id"]:
            operations[i] = updated


def _workflow_name(fn: Callable[..., Any]) -> str:
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    if module and module != "__main__":
        return f"{module}:{qualname}"
    return str(qualname)
