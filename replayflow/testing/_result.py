"""``RunResult``: an execution the local service ran, with its history and its operations by name."""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import orjson

from replayflow._serdes import loads
from replayflow._wire import OperationDict
from replayflow.local.usage import Usage

from ._diff import diff
from ._history import UNSET

__all__ = ["Attempt", "OperationView", "RunResult", "kind_label"]

_Indexes = tuple[dict[str | None, list[Mapping[str, Any]]], dict[str | None, list[OperationDict]]]


@attrs.frozen
class Attempt:
    """One attempt of a step (or one poll of a wait_for_condition), read from the history events."""

    number: int
    status: str
    started_at: _dt.datetime | None
    ended_at: _dt.datetime | None
    #: The raw result payload (a poll's new state; a step's result).
    payload: str | None = None
    error: Mapping[str, Any] | None = None
    #: Seconds until the next attempt, when this one was retried.
    retry_delay: int | None = None


@attrs.frozen(eq=False)
class OperationView:
    """One operation of a run: its final record, its events, and its children."""

    record: OperationDict = attrs.field(repr=False)
    events: tuple[Mapping[str, Any], ...] = attrs.field(repr=False)
    children: tuple[OperationView, ...] = attrs.field(repr=False)

    @property
    def id(self) -> str:
        return self.record["Id"]

    @property
    def name(self) -> str | None:
        return self.record.get("Name")

    @property
    def type(self) -> str:
        return self.record["Type"]

    @property
    def sub_type(self) -> str | None:
        return self.record.get("SubType")

    @property
    def status(self) -> str:
        return self.record["Status"]

    @property
    def parent_id(self) -> str | None:
        return self.record.get("ParentId")

    @property
    def details(self) -> Mapping[str, Any]:
        """The operation's ``<Type>Details``."""
        for key, value in self.record.items():
            if key.endswith("Details") and isinstance(value, Mapping):
                return value
        return {}

    @property
    def payload(self) -> str | None:
        """The raw recorded result payload (``None`` when there is none)."""
        value = self.details.get("Result")
        return value if isinstance(value, str) else None

    @property
    def result(self) -> Any:
        """The recorded result, parsed as JSON (a callback result that is not JSON stays a string)."""
        payload = self.payload
        if payload is None:
            return None
        try:
            return loads(payload)
        except ValueError:
            return payload

    @property
    def error(self) -> Mapping[str, Any] | None:
        """The recorded ErrorObject (``ErrorType``, ``ErrorMessage``...), if the operation failed."""
        value = self.details.get("Error")
        return value if isinstance(value, Mapping) else None

    @property
    def attempt(self) -> int:
        """Attempts made (steps and wait_for_condition polls)."""
        return int(self.details.get("Attempt") or 0)

    @property
    def attempts(self) -> tuple[Attempt, ...]:
        """Each attempt, from the events: when it ran, how it ended, its error and retry delay."""
        out: list[Attempt] = []
        started: _dt.datetime | None = None
        for event in self.events:
            kind = event["EventType"]
            if kind == "StepStarted":
                started = _when(event)
                continue
            if kind in ("StepSucceeded", "StepFailed"):
                out.append(_attempt(event, kind, len(out) + 1, started))
                started = None
        return tuple(out)

    @property
    def callback_id(self) -> str | None:
        value = self.details.get("CallbackId")
        return value if isinstance(value, str) else None

    @property
    def started_at(self) -> _dt.datetime | None:
        return _from_ms(self.record.get("StartTimestamp"))

    @property
    def ended_at(self) -> _dt.datetime | None:
        return _from_ms(self.record.get("EndTimestamp"))

    def child(self, name: str) -> OperationView:
        """The direct child operation named ``name`` (inside a child context, a branch...)."""
        for view in self.children:
            if view.name == name:
                return view
        names = [c.name for c in self.children]
        raise AssertionError(f"{self.describe()} has no child named {name!r}; its children: {names}")

    def describe(self) -> str:
        kind = kind_label(self.type, self.sub_type)
        label = f"{kind} {self.name!r}" if self.name else f"{kind} (unnamed)"
        return f"{label} [{self.status}]"

    def __repr__(self) -> str:
        return f"OperationView({self.describe()}, id={self.id[:12]}...)"


@attrs.frozen(eq=False)
class RunResult:
    """An execution on the local durable service: how it ended, its history and its operations."""

    arn: str
    #: ``SUCCEEDED``, ``FAILED``, ``TIMED_OUT``, ``STOPPED`` or ``RUNNING``.
    status: str
    #: The result payload (JSON text) and the ErrorObject, as GetDurableExecution reports them.
    result_payload: str | None
    error: Mapping[str, Any] | None
    #: The GetDurableExecutionHistory events (boto3 shape: timestamps are datetimes).
    events: tuple[Mapping[str, Any], ...] = attrs.field(repr=False)
    #: Each operation's final record, in start order (rebuilt from the events).
    operations: tuple[OperationDict, ...] = attrs.field(repr=False)
    #: The GetDurableExecution description.
    execution: Mapping[str, Any] = attrs.field(repr=False)
    #: What the execution used of AWS's per-execution quotas, and its estimated cost.
    usage: Usage | None = attrs.field(default=None, repr=False)

    @property
    def result(self) -> Any:
        """The workflow's return value (JSON-decoded)."""
        return None if not self.result_payload else loads(self.result_payload)

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"

    # -- operations ------------------------------------------------------------------------------------------

    def operation(self, name: str, *, type: str | None = None, index: int = 0) -> OperationView:
        """The operation named ``name`` (the ``index``-th one, if several share the name)."""
        matches = [op for op in self.operations if op.get("Name") == name and (type is None or op["Type"] == type)]
        if len(matches) <= index:
            kind = f"{type} " if type else ""
            raise AssertionError(f"the run has no {kind}operation named {name!r}.\n{self.explain()}")
        return self._view(matches[index])

    def get_step(self, name: str, index: int = 0) -> OperationView:
        """The step (or wait_for_condition) named ``name``."""
        return self.operation(name, type="STEP", index=index)

    def get_wait(self, name: str, index: int = 0) -> OperationView:
        return self.operation(name, type="WAIT", index=index)

    def get_callback(self, name: str, index: int = 0) -> OperationView:
        """The callback named ``name``; for ``wait_for_callback(name=...)``, the callback it created."""
        try:
            return self.operation(name, type="CALLBACK", index=index)
        except AssertionError:
            return self.operation(f"{name} create callback id", type="CALLBACK", index=index)

    def get_context(self, name: str, index: int = 0) -> OperationView:
        """The child context (or parallel, map, branch, wait_for_callback) named ``name``."""
        return self.operation(name, type="CONTEXT", index=index)

    def get_invoke(self, name: str, index: int = 0) -> OperationView:
        return self.operation(name, type="CHAINED_INVOKE", index=index)

    def _view(self, record: OperationDict, indexes: _Indexes | None = None) -> OperationView:
        events, children = indexes or self._indexes()

        def view(rec: OperationDict) -> OperationView:  # linear in the run's size, however wide a map
            op_id = rec["Id"]
            return OperationView(rec, tuple(events.get(op_id, ())), tuple(view(op) for op in children.get(op_id, ())))

        return view(record)

    def _indexes(self) -> _Indexes:
        """Events by operation id, operations by parent id."""
        events: dict[str | None, list[Mapping[str, Any]]] = {}
        for event in self.events:
            events.setdefault(event.get("Id"), []).append(event)
        children: dict[str | None, list[OperationDict]] = {}
        for op in self.operations:
            children.setdefault(op.get("ParentId"), []).append(op)
        return events, children

    # -- assertions ------------------------------------------------------------------------------------------

    def assert_succeeded(self, result: object = UNSET) -> Any:
        """Assert the execution succeeded (with ``result`` if given); returns the result."""
        if self.status != "SUCCEEDED":
            raise AssertionError(f"expected the execution to succeed, but it is {self.status}.\n{self.explain()}")
        if result is not UNSET and self.result != result:
            raise AssertionError(f"{diff(result, self.result, label='the result')}\n{self.explain()}")
        return self.result

    def assert_failed(self, error_type: str | type[BaseException] | None = None, match: str | None = None) -> Any:
        """Assert the execution failed with this ``ErrorType`` and a message matching ``match``; returns the error.

        The ErrorType is the one recorded: for a failure that came from an operation, the original error's
        (``"ValueError"`` for a step that raised it, ``"Callback.Timeout"`` for a callback that timed out).
        """
        if self.status != "FAILED":
            raise AssertionError(f"expected the execution to fail, but it is {self.status}.\n{self.explain()}")
        error = dict(self.error or {})
        if error_type is not None:
            _check_error_type(str(error.get("ErrorType") or ""), error_type)
        message = str(error.get("ErrorMessage") or "")
        if match is not None and not re.search(match, message):
            raise AssertionError(f"the error message {message!r} does not match {match!r}")
        return error

    # -- output ----------------------------------------------------------------------------------------------

    def to_json(self) -> str:
        """The execution and its events as JSON (timestamps as epoch seconds, as the AWS CLI prints them).

        ``replayflow.testing.load_history`` and ``replayflow replay`` read it back.
        """
        document = {"Execution": _plain(self.execution), "Events": [_plain(e) for e in self.events]}
        return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode()

    def explain(self) -> str:
        """The run as readable text: status, result or error, and the operation tree."""
        lines = [f"execution {self.status}"]
        if self.status == "SUCCEEDED":
            lines[0] += f" with {self.result!r}"
        elif self.error:
            kind = self.error.get("ErrorType")
            lines[0] += f": {kind}: " if kind else ": "
            lines[0] += str(self.error.get("ErrorMessage"))
        if self.usage is not None:
            lines.append(f"usage: {self.usage.describe()}")
            lines.extend(f"warning: {w}" for w in self.usage.warnings())
        lines.append("operations:")
        by_parent: dict[str | None, list[OperationDict]] = {}
        for op in self.operations:
            if op["Type"] != "EXECUTION":
                by_parent.setdefault(op.get("ParentId"), []).append(op)

        indexes = self._indexes()

        def walk(parent: str | None, depth: int) -> None:
            for op in by_parent.get(parent, ()):
                view = self._view(op, indexes)
                extra = f" attempts={view.attempt}" if view.type == "STEP" else ""
                lines.append(f"{'  ' * depth}  - {view.describe()}{extra}")
                walk(op["Id"], depth + 1)

        walk(None, 0)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.explain()


_KINDS = {
    "Step": "step",
    "Wait": "wait",
    "Callback": "callback",
    "RunInChildContext": "child context",
    "Map": "map",
    "MapIteration": "map item",
    "Parallel": "parallel",
    "ParallelBranch": "branch",
    "WaitForCallback": "wait_for_callback",
    "WaitForCondition": "wait_for_condition",
    "ChainedInvoke": "invoke",
}


def kind_label(op_type: str | None, sub_type: str | None) -> str:
    """A readable kind for an operation: ``step``, ``child context``, ``map item``..."""
    if sub_type in _KINDS:
        return _KINDS[sub_type]
    return (sub_type or op_type or "operation").lower()


#: An attempt's status by its ending event and whether that event scheduled another attempt.
_ATTEMPT_STATUS = {
    ("StepSucceeded", False): "SUCCEEDED",
    ("StepFailed", False): "FAILED",
    ("StepSucceeded", True): "CONTINUE",  # a wait_for_condition poll: the condition does not hold yet
    ("StepFailed", True): "RETRY",
}


def _attempt(event: Mapping[str, Any], kind: str, number: int, started: _dt.datetime | None) -> Attempt:
    """The attempt a ``StepSucceeded`` / ``StepFailed`` event ends (``number`` unless the event says)."""
    details = event.get(f"{kind}Details") or {}
    retry = details.get("RetryDetails") or {}
    delay = retry.get("NextAttemptDelaySeconds")
    return Attempt(
        retry.get("CurrentAttempt") or number,
        _ATTEMPT_STATUS[kind, delay is not None],
        started,
        _when(event),
        (details.get("Result") or {}).get("Payload"),
        (details.get("Error") or {}).get("Payload"),
        delay,
    )


def _check_error_type(recorded: str, error_type: str | type[BaseException]) -> None:
    """The recorded ``ErrorType`` is ``error_type`` (its name, or the last part of a dotted one)."""
    wanted = error_type if isinstance(error_type, str) else error_type.__name__
    if recorded != wanted and recorded.rsplit(".", 1)[-1] != wanted:
        raise AssertionError(f"the execution failed with {recorded or 'no ErrorType'}, not {wanted}")


def _when(event: Mapping[str, Any]) -> _dt.datetime | None:
    value = event.get("EventTimestamp")
    if isinstance(value, _dt.datetime):
        return value
    if isinstance(value, int | float):
        return _from_ms(value if value > 100_000_000_000 else value * 1000)
    return None


def _from_ms(value: object) -> _dt.datetime | None:
    if not isinstance(value, int | float):
        return None
    return _dt.datetime.fromtimestamp(value / 1000, _dt.UTC)


def _plain(value: Any) -> Any:
    if isinstance(value, _dt.datetime):
        return value.timestamp()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode()
    return value
