"""What the service keeps per execution, per invocation and per registered function."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import attrs

from replayflow._wire import CheckpointResponse, OperationDict

from . import naming
from .errors import HandlerNotCallableError, HandlerSpecError

if TYPE_CHECKING:
    from .invokers import Invoker

__all__ = [
    "CallbackDeadlines",
    "ChainedKind",
    "ChainedTarget",
    "Completion",
    "Execution",
    "ExecutionResult",
    "Function",
    "Invocation",
    "InvocationRetry",
    "LastCall",
    "ParentLink",
    "TokenChain",
    "import_handler",
]

RUNNING = "RUNNING"


@attrs.frozen
class InvocationRetry:
    """How failed invocations (the handler raised, the process died, invalid output) are retried.

    After ``max_attempts`` consecutive failures the execution FAILS with the last invocation error. The
    n-th retry waits ``min(initial_delay * backoff_rate ** (n - 1), max_delay)`` seconds on the service's
    clock (free under a virtual clock).
    """

    max_attempts: int = 6
    initial_delay: float = 1.0
    backoff_rate: float = 2.0
    max_delay: float = 60.0

    def delay(self, failures: int) -> float:
        return float(min(self.initial_delay * self.backoff_rate ** max(failures - 1, 0), self.max_delay))


@attrs.define(eq=False)
class Function:
    """A registered function: a durable handler, or a plain function (a chained-invoke target)."""

    name: str
    handler: Callable[..., Any] | str
    durable: bool
    invoker: Invoker | None
    execution_timeout: int
    function_timeout: float

    def resolve(self) -> Callable[..., Any]:
        """The handler callable (a ``"module:attribute"`` string is imported)."""
        if isinstance(self.handler, str):
            self.handler = import_handler(self.handler)
        return self.handler

    @property
    def spec(self) -> str | None:
        """The ``"module:attribute"`` of the handler, when it has one (needed by process invokers)."""
        if isinstance(self.handler, str):
            return self.handler
        module = getattr(self.handler, "__module__", None)
        name = getattr(self.handler, "__qualname__", None) or getattr(self.handler, "__name__", None)
        if module and name and "<" not in name:
            return f"{module}:{name}"
        return None


def import_handler(spec: str) -> Callable[..., Any]:
    """Import ``"package.module:attribute"`` (dots after the colon walk attributes)."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise HandlerSpecError(f"a handler must be given as 'module:attribute', got {spec!r}")
    obj: object = importlib.import_module(module_name)
    for part in attribute.split("."):
        obj = getattr(obj, part)
    if not callable(obj):
        raise HandlerNotCallableError(f"{spec} is not callable")
    return obj


class Invocation(NamedTuple):
    """One handler invocation in flight."""

    request_id: str
    start_ms: int


@attrs.frozen
class ExecutionResult:
    """How an execution ended (or where it stands): ``status`` is the GetDurableExecution status."""

    arn: str
    status: str
    result: str | None = None
    error: dict[str, Any] | None = None

    @property
    def value(self) -> Any:
        """The result decoded from JSON (``None`` when there is none)."""
        return None if not self.result else json.loads(self.result)

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"


class ParentLink(NamedTuple):
    """Where a chained invoke's child execution reports: the parent execution and its CHAINED_INVOKE op."""

    arn: str
    op_id: str


class Completion(NamedTuple):
    """The outcome an EXECUTION update decided; applied when the invocation ends."""

    status: str
    result: str | None
    error: dict[str, Any] | None


class CallbackDeadlines(NamedTuple):
    """A CALLBACK operation's timeouts (seconds) and when they fall due (epoch ms); 0 is none."""

    timeout: int
    heartbeat: int
    timeout_due: int
    heartbeat_due: int


#: ``"execution"``: a durable target's child execution; ``"plain"``: a call of a plain function.
ChainedKind = Literal["execution", "plain"]


class ChainedTarget(NamedTuple):
    """What a CHAINED_INVOKE operation started: a child execution (``target`` is its ARN) or a call of a
    plain function (``target`` is the function's name)."""

    kind: ChainedKind
    target: str


class LastCall(NamedTuple):
    """The last checkpoint that carried a ClientToken, and its answer (a retried call gets it again)."""

    client_token: str
    token: str | None
    response: CheckpointResponse


@attrs.define(eq=False)
class TokenChain:
    """The checkpoint tokens of the invocation in flight: each checkpoint consumes ``current`` and gets the
    next one; ``current`` is ``None`` when no checkpoint is accepted."""

    nonce: str = ""
    seq: int = 0
    current: str | None = None
    last_call: LastCall | None = None

    def open(self) -> str:
        """A new chain for a new invocation; its first token."""
        self.nonce = naming.token_nonce()
        self.seq = 0
        self.current = self.nonce + "0"
        self.last_call = None
        return self.current

    def advance(self) -> str:
        """The next token (the current one is consumed)."""
        self.seq += 1
        self.current = f"{self.nonce}{self.seq}"
        return self.current

    def close(self) -> None:
        """No more checkpoints for this invocation."""
        self.current = None
        self.last_call = None


@attrs.define(eq=False)
class Execution:
    """One durable execution: its operations, history, invocation state and timers' bookkeeping.

    ``ops`` maps an operation id to its current wire dict; these dicts are never mutated once stored (a
    change stores a new dict), so handing them out is safe. ``order`` is the start order. ``changes`` is
    the log of changed operation ids: what a handler has not seen is ``changes[seen:]``.

    The stored form (:func:`stored_form`, for a persistent store) is every field but the ``init=False``
    ones: operations and events are stored on their own, the rest lives as long as the process.
    """

    # -- how it started
    arn: str
    function_name: str
    name: str
    id: str
    region: str
    account: str
    input_payload: str | None
    start_ms: int
    timeout: int
    tenant_id: str | None = None
    #: Set for a chained invoke's child execution.
    parent: ParentLink | None = None
    # -- where it stands
    status: str = RUNNING
    end_ms: int | None = None
    result: str | None = None
    error: dict[str, Any] | None = None
    #: From an EXECUTION update, applied when the invocation ends.
    completion: Completion | None = None
    #: CHAINED_INVOKE operation id -> what it started.
    children: dict[str, ChainedTarget] = attrs.Factory(dict)
    #: Operations waiting for something outside the handler (a timer, a callback, a child execution).
    pending: set[str] = attrs.Factory(set)
    #: CALLBACK op id -> its deadlines, while it is open.
    callbacks: dict[str, CallbackDeadlines] = attrs.Factory(dict)
    #: Ops changed by the service while the handler was not looking (the next UpdatedOperationIds).
    updated_ids: list[str] = attrs.Factory(list)
    # -- invocations
    invocation: Invocation | None = None
    #: An invocation is due (stored as ``queued or wake``: a resumed service invokes it).
    queued: bool = False
    failures: int = 0
    invocations: int = 0
    #: When a failed invocation is retried (epoch ms; 0 = no retry armed).
    retry_due: int = 0
    #: Metered usage (see :mod:`.limits`): durable operations and bytes written so far.
    operations: int = 0
    bytes_written: int = 0
    # -- not stored: operations and events (stored on their own), and what lives only in this process
    ops: dict[str, OperationDict] = attrs.field(init=False, factory=dict)
    order: list[str] = attrs.field(init=False, factory=list)
    changes: list[str] = attrs.field(init=False, factory=list)
    seen: int = attrs.field(init=False, default=0)
    #: which positions of ``order`` pages hand out, for the (len(order), len(changes)) it was worked out at
    visible: tuple[tuple[int, int], list[int]] | None = attrs.field(init=False, default=None)
    events: list[dict[str, Any]] = attrs.field(init=False, factory=list)
    tokens: TokenChain = attrs.field(init=False, factory=TokenChain)
    running: bool = attrs.field(init=False, default=False)
    wake: bool = attrs.field(init=False, default=False)
    #: The running invocation checkpointed something (a PENDING answer then asks for a new invocation).
    progress: bool = attrs.field(init=False, default=False)

    def add_op(self, op: OperationDict) -> None:
        """Store a new operation."""
        op_id = op["Id"]
        self.ops[op_id] = op
        self.order.append(op_id)
        self.changes.append(op_id)

    def set_op(self, op: OperationDict) -> None:
        """Replace an operation's dict with its new state."""
        op_id = op["Id"]
        self.ops[op_id] = op
        self.changes.append(op_id)

    def result_view(self) -> ExecutionResult:
        return ExecutionResult(self.arn, self.status, self.result, self.error)
