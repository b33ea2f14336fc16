"""``NextOperation``: what a workflow would do next, read off the interpreter's dry-run plan."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypedDict

import attrs

from replayflow._errors import SerDesError
from replayflow._ids import operation_id
from replayflow._ops.base import DurableOperation, default_name
from replayflow._ops.batch import CompletionConfig, MapOp, NestingType, ParallelOp
from replayflow._ops.callback import CreateCallback
from replayflow._ops.child import ChildContext
from replayflow._ops.condition import WaitForCondition
from replayflow._ops.invoke import Invoke
from replayflow._ops.step import Step, StepSemantics
from replayflow._ops.wait import Wait
from replayflow._retry import RetryStrategy
from replayflow._serdes import SerDesContext
from replayflow._wire import OperationDict

from ._dry_run import Planned

__all__ = ["NextOperation", "describe_planned"]

_KINDS: dict[str, str] = {
    "Step": "step",
    "Wait": "wait",
    "Callback": "callback",
    "WaitForCallback": "wait_for_callback",
    "RunInChildContext": "child_context",
    "Parallel": "parallel",
    "Map": "map",
    "ChainedInvoke": "invoke",
    "WaitForCondition": "wait_for_condition",
}


@attrs.frozen(kw_only=True)
class NextOperation:
    """One operation the workflow would start (or one more attempt of a step) if invoked now.

    ``kind`` is ``"step"``, ``"wait"``, ``"callback"`` (``create_callback``), ``"wait_for_callback"``,
    ``"child_context"``, ``"parallel"``, ``"map"``, ``"invoke"`` or ``"wait_for_condition"``; ``action`` is
    ``"start"`` (a new operation) or ``"attempt"`` (another attempt of a recorded step: a retry that is due,
    or an interrupted attempt). Fields that do not apply to the kind are ``None`` / empty.
    """

    kind: str
    action: str
    name: str | None
    operation_id: str
    parent_id: str | None
    attempt: int
    #: Which context yields it, e.g. ``"the workflow"`` or ``"RunInChildContext context 'billing'"``.
    scope: str
    #: ``file:line`` of the ``yield``.
    location: str | None
    type: str
    sub_type: str
    #: The step function, child-context body, map function, condition check or callback submitter.
    function: Callable[..., object] | None = None
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = attrs.field(factory=dict)
    #: Step retry strategy (a wait_for_condition's wait strategy ``(state, attempt)``) and semantics.
    retry: RetryStrategy | Callable[[Any, int], object] | None = None
    semantics: StepSemantics | None = None
    #: Wait duration (whole seconds).
    seconds: int | None = None
    #: Callback timeouts (whole seconds; ``None`` when not set).
    timeout: int | None = None
    heartbeat_timeout: int | None = None
    #: Chained invoke target, payload and tenant.
    function_name: str | None = None
    payload: Any = None
    tenant_id: str | None = None
    #: Parallel/map branch names, map items and batch options.
    branches: tuple[str, ...] = ()
    items: tuple[Any, ...] = ()
    max_concurrency: int | None = None
    completion: CompletionConfig | None = None
    nesting: NestingType | None = None
    #: wait_for_condition: the state the next poll gets.
    state: Any = None
    #: The operation descriptor the workflow yielded.
    descriptor: DurableOperation[Any] | None = attrs.field(default=None, repr=False, eq=False)

    def describe(self) -> str:
        """One readable line: ``start step 'charge' charge(100, currency='EUR') at orders.py:12``."""
        what = f"{self.action} {self.kind}"
        what += f" {self.name!r}" if self.name is not None else " (unnamed)"
        if self.action == "attempt":
            what += f" (attempt {self.attempt})"
        detail = self._detail()
        if detail:
            what += f": {detail}"
        if self.scope != "the workflow":
            what += f" in {self.scope}"
        if self.location:
            what += f" at {_short(self.location)}"
        return what

    def _detail(self) -> str:
        kind = self.kind
        if kind in ("step", "child_context", "wait_for_condition") and self.function is not None:
            call = _call(self.function, self.args, self.kwargs)
            return call if kind != "wait_for_condition" else f"{call}, state={self.state!r}"
        if kind == "wait":
            return f"{self.seconds} s"
        if kind in ("callback", "wait_for_callback"):
            parts = []
            if self.timeout:
                parts.append(f"timeout {self.timeout} s")
            if self.heartbeat_timeout:
                parts.append(f"heartbeat timeout {self.heartbeat_timeout} s")
            return ", ".join(parts)
        if kind == "invoke":
            return f"{self.function_name}({self.payload!r})"
        if kind in ("parallel", "map"):
            return f"{len(self.branches)} branches {list(self.branches)!r}"
        return ""

    def __str__(self) -> str:
        return self.describe()


def _fn_name(fn: object) -> str:
    target = getattr(fn, "func", fn)
    return str(getattr(target, "__qualname__", None) or getattr(target, "__name__", None) or repr(fn))


def _call(fn: object, args: tuple[object, ...], kwargs: Mapping[str, object]) -> str:
    shown = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    text = ", ".join(shown)
    if len(text) > 200:
        text = text[:197] + "..."
    return f"{_fn_name(fn)}({text})"


def _short(location: str) -> str:
    path, _, line = location.rpartition(":")
    parts = path.replace("\\", "/").rsplit("/", 2)
    return f"{'/'.join(parts[-2:])}:{line}"


class _Common(TypedDict):
    """The fields of a :class:`NextOperation` that come from the plan, whatever the kind."""

    action: str
    operation_id: str
    parent_id: str | None
    attempt: int
    scope: str
    location: str | None
    descriptor: DurableOperation[Any]


def describe_planned(planned: Planned, records: Mapping[str, OperationDict]) -> NextOperation:
    """Turn the dry run's ``Planned`` entry into a :class:`NextOperation`."""
    op = planned.op
    common: _Common = {
        "action": planned.action,
        "operation_id": planned.op_id,
        "parent_id": planned.parent_id,
        "attempt": planned.attempt,
        "scope": planned.scope_label,
        "location": planned.location,
        "descriptor": op,
    }
    for kinds, describe in _DESCRIBERS:
        if isinstance(op, kinds):
            return describe(op, planned, records, common)
    return NextOperation(kind=type(op).__name__, type="?", sub_type="?", name=getattr(op, "name", None), **common)


def _step(op: Step[Any], planned: Planned, records: Mapping[str, OperationDict], common: _Common) -> NextOperation:
    return NextOperation(
        kind="step",
        type="STEP",
        sub_type="Step",
        name=op.name,
        function=op.fn,
        args=tuple(op.args),
        kwargs=dict(op.kwargs),
        retry=op.options.retry,
        semantics=op.options.semantics,
        **common,
    )


def _wait(op: Wait, planned: Planned, records: Mapping[str, OperationDict], common: _Common) -> NextOperation:
    return NextOperation(kind="wait", type="WAIT", sub_type="Wait", name=op.name, seconds=op.seconds, **common)


def _callback(
    op: CreateCallback[Any], planned: Planned, records: Mapping[str, OperationDict], common: _Common
) -> NextOperation:
    return NextOperation(
        kind="callback",
        type="CALLBACK",
        sub_type="Callback",
        name=op.name,
        timeout=op.timeout or None,
        heartbeat_timeout=op.heartbeat_timeout or None,
        **common,
    )


def _invoke(op: Invoke[Any], planned: Planned, records: Mapping[str, OperationDict], common: _Common) -> NextOperation:
    return NextOperation(
        kind="invoke",
        type="CHAINED_INVOKE",
        sub_type="ChainedInvoke",
        name=op.name,
        function_name=op.function_name,
        payload=op.payload,
        tenant_id=op.tenant_id,
        **common,
    )


def _condition(
    op: WaitForCondition[Any], planned: Planned, records: Mapping[str, OperationDict], common: _Common
) -> NextOperation:
    state = op.initial_state
    rec = records.get(planned.op_id)
    encoded = ((rec or {}).get("StepDetails") or {}).get("Result")
    if encoded is not None:
        try:
            state = op.serdes.deserialize(encoded, SerDesContext(planned.op_id, ""))
        except (SerDesError, ValueError):
            state = encoded
    return NextOperation(
        kind="wait_for_condition",
        type="STEP",
        sub_type="WaitForCondition",
        name=op.name,
        function=op.check,
        state=state,
        retry=op.strategy,
        **common,
    )


def _batch(
    op: ParallelOp[Any] | MapOp[Any],
    planned: Planned,
    records: Mapping[str, OperationDict],
    common: _Common,
) -> NextOperation:
    branches = tuple(branch[2] for branch in op.branches())
    config = op.config
    return NextOperation(
        kind="map" if isinstance(op, MapOp) else "parallel",
        type="CONTEXT",
        sub_type=op.sub_type,
        name=op.name,
        function=op.fn if isinstance(op, MapOp) else None,
        items=tuple(op.items) if isinstance(op, MapOp) else (),
        branches=branches,
        max_concurrency=config.max_concurrency,
        completion=config.completion,
        nesting=config.nesting,
        **common,
    )


def _child(
    op: ChildContext[Any], planned: Planned, records: Mapping[str, OperationDict], common: _Common
) -> NextOperation:
    name = planned_name(op, records, planned)
    if op.sub_type == "WaitForCallback":
        submitter, _, timeout, heartbeat, retry, _ = op.args
        return NextOperation(
            kind="wait_for_callback",
            type="CONTEXT",
            sub_type=op.sub_type,
            name=name,
            function=submitter,
            timeout=timeout or None,
            heartbeat_timeout=heartbeat or None,
            retry=retry,
            **common,
        )
    return NextOperation(
        kind=_KINDS.get(op.sub_type, "child_context"),
        type="CONTEXT",
        sub_type=op.sub_type,
        name=name,
        function=op.fn,
        args=tuple(op.args),
        kwargs=dict(op.kwargs),
        **common,
    )


#: How each kind of descriptor is described, tried in order (the first class that matches).
_DESCRIBERS: tuple[tuple[type[Any] | tuple[type[Any], ...], Callable[..., NextOperation]], ...] = (
    (Step, _step),
    (Wait, _wait),
    (CreateCallback, _callback),
    (Invoke, _invoke),
    (WaitForCondition, _condition),
    ((ParallelOp, MapOp), _batch),
    (ChildContext, _child),
)


def planned_name(op: ChildContext[Any], records: Mapping[str, OperationDict], planned: Planned) -> str | None:
    """The name a child context is recorded under: given, else the function's name, else its position."""
    if op.name is not None or not op.auto_name:
        return op.name
    name = default_name(op.fn)
    if name is not None:
        return name
    # the interpreter names an anonymous child after its position in its context: child-context-<n>
    for n in range(1, 10_001):
        if operation_id(planned.parent_id, n) == planned.op_id:
            return f"child-context-{n}"
    return None
