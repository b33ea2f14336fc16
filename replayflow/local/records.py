"""What the service keeps per execution, per invocation and per registered function."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from .invokers import Invoker

__all__ = ["Execution", "ExecutionResult", "Function", "Invocation", "InvocationRetry"]

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
        raise ValueError(f"a handler must be given as 'module:attribute', got {spec!r}")
    obj: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        obj = getattr(obj, part)
    if not callable(obj):
        raise TypeError(f"{spec} is not callable")
    return obj  # type: ignore[no-any-return]


@attrs.define(eq=False)
class Invocation:
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


class Execution:
    """One durable execution: its operations, history, invocation state and timers' bookkeeping.

    ``ops`` maps an operation id to its current wire dict; these dicts are never mutated once stored (a
    change stores a new dict), so handing them out is safe. ``order`` is the start order. ``changes`` is
    the log of changed operation ids: what a handler has not seen is ``changes[seen:]``.
    """

    __slots__ = (
        "account",
        "arn",
        "bytes_written",
        "callbacks",
        "changes",
        "children",
        "completion",
        "end_ms",
        "error",
        "events",
        "failures",
        "function_name",
        "id",
        "input_payload",
        "invocation",
        "invocations",
        "last_call",
        "name",
        "nonce",
        "operations",
        "ops",
        "order",
        "parent",
        "pending",
        "persisted_changes",
        "persisted_events",
        "progress",
        "queued",
        "region",
        "result",
        "retry_due",
        "running",
        "seen",
        "start_ms",
        "status",
        "tenant_id",
        "timeout",
        "token",
        "token_seq",
        "updated_ids",
        "wake",
    )

    def __init__(
        self,
        *,
        arn: str,
        function_name: str,
        name: str,
        id: str,
        region: str,
        account: str,
        input_payload: str | None,
        start_ms: int,
        timeout: int,
        tenant_id: str | None = None,
        parent: tuple[str, str] | None = None,
    ) -> None:
        self.arn = arn
        self.function_name = function_name
        self.name = name
        self.id = id
        self.region = region
        self.account = account
        self.input_payload = input_payload
        self.start_ms = start_ms
        self.timeout = timeout
        self.tenant_id = tenant_id
        #: ``(parent execution arn, CHAINED_INVOKE operation id)`` for a chained invoke's child execution.
        self.parent = parent
        #: CHAINED_INVOKE operation id -> child execution arn (durable targets).
        self.children: dict[str, str] = {}
        self.status = RUNNING
        self.end_ms: int | None = None
        self.result: str | None = None
        self.error: dict[str, Any] | None = None
        self.ops: dict[str, dict[str, Any]] = {}
        self.order: list[str] = []
        self.changes: list[str] = []
        self.seen = 0
        self.events: list[dict[str, Any]] = []
        #: Operations waiting for something outside the handler (a timer, a callback, a child execution).
        self.pending: set[str] = set()
        #: CALLBACK op id -> [timeout s, heartbeat timeout s, timeout due ms, heartbeat due ms] (0 = none).
        self.callbacks: dict[str, list[int]] = {}
        #: Ops changed by the service while the handler was not looking (the next UpdatedOperationIds).
        self.updated_ids: list[str] = []
        #: ``(status, result, error)`` from an EXECUTION update, applied when the invocation ends.
        self.completion: tuple[str, str | None, dict[str, Any] | None] | None = None
        self.invocation: Invocation | None = None
        self.running = False
        self.queued = False
        self.wake = False
        #: The running invocation checkpointed something (a PENDING answer then asks for a new invocation).
        self.progress = False
        self.failures = 0
        self.invocations = 0
        #: Metered usage (see :mod:`.limits`): durable operations and bytes written so far.
        self.operations = 0
        self.bytes_written = 0
        self.retry_due = 0
        self.token: str | None = None
        self.nonce = ""
        self.token_seq = 0
        self.last_call: tuple[str, str, Any] | None = None
        self.persisted_changes = 0
        self.persisted_events = 0

    def add_op(self, op: dict[str, Any]) -> None:
        """Store a new operation."""
        op_id = op["Id"]
        self.ops[op_id] = op
        self.order.append(op_id)
        self.changes.append(op_id)

    def set_op(self, op: dict[str, Any]) -> None:
        """Replace an operation's dict with its new state."""
        op_id = op["Id"]
        self.ops[op_id] = op
        self.changes.append(op_id)

    def meta(self) -> dict[str, Any]:
        """The scalar state, for a persistent store (operations and events are stored on their own)."""
        return {
            "arn": self.arn,
            "function_name": self.function_name,
            "name": self.name,
            "id": self.id,
            "region": self.region,
            "account": self.account,
            "input_payload": self.input_payload,
            "start_ms": self.start_ms,
            "timeout": self.timeout,
            "tenant_id": self.tenant_id,
            "parent": list(self.parent) if self.parent else None,
            "children": self.children,
            "status": self.status,
            "end_ms": self.end_ms,
            "result": self.result,
            "error": self.error,
            "pending": sorted(self.pending),
            "callbacks": self.callbacks,
            "updated_ids": self.updated_ids,
            "completion": list(self.completion) if self.completion else None,
            "invocation": [self.invocation.request_id, self.invocation.start_ms] if self.invocation else None,
            "queued": self.queued or self.wake,
            "failures": self.failures,
            "invocations": self.invocations,
            "operations": self.operations,
            "bytes_written": self.bytes_written,
            "retry_due": self.retry_due,
        }

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> Execution:
        ex = cls(
            arn=meta["arn"],
            function_name=meta["function_name"],
            name=meta["name"],
            id=meta["id"],
            region=meta["region"],
            account=meta["account"],
            input_payload=meta["input_payload"],
            start_ms=meta["start_ms"],
            timeout=meta["timeout"],
            tenant_id=meta["tenant_id"],
            parent=(meta["parent"][0], meta["parent"][1]) if meta["parent"] else None,
        )
        ex.children = dict(meta["children"])
        ex.status = meta["status"]
        ex.end_ms = meta["end_ms"]
        ex.result = meta["result"]
        ex.error = meta["error"]
        ex.pending = set(meta["pending"])
        ex.callbacks = {k: list(v) for k, v in meta["callbacks"].items()}
        ex.updated_ids = list(meta["updated_ids"])
        completion = meta["completion"]
        ex.completion = (completion[0], completion[1], completion[2]) if completion else None
        inflight = meta["invocation"]
        ex.invocation = Invocation(inflight[0], inflight[1]) if inflight else None
        ex.queued = bool(meta["queued"])
        ex.failures = meta["failures"]
        ex.invocations = meta["invocations"]
        ex.operations = meta.get("operations", 0)  # stores written before usage was metered
        ex.bytes_written = meta.get("bytes_written", 0)
        ex.retry_due = meta["retry_due"]
        return ex

    def result_view(self) -> ExecutionResult:
        return ExecutionResult(self.arn, self.status, self.result, self.error)
