"""``ctx.parallel`` and ``ctx.map``: branches that run concurrently, under a completion policy.

The batch is a CONTEXT operation (SubType ``Parallel`` / ``Map``). Branch ``i`` is a child frame whose id is
``blake2b("<batch id>-<i>")`` (counting from 0): with ``NestingType.NESTED`` (default) a CONTEXT of its own
(``ParallelBranch`` / ``MapIteration``), with ``NestingType.FLAT`` a virtual context whose operations are
parented directly to the batch. The interpreter interleaves the branch frames and runs their step bodies
on worker threads, at most ``max_concurrency`` branches at a time. Ids depend only on positions, never on
scheduling order.

When the completion policy is met (or every branch has finished) the batch completes: branches not started
yet are never started, branches still running are told to stop (their step contexts are cancelled) and
their results dropped, and the :class:`BatchResult` is checkpointed on the batch operation. Replay
returns that result without running any branch.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from replayflow._errors import (
    BatchError,
    ChildContextError,
    DurableOperationError,
    NonDeterminismError,
    RetryableSerDesError,
    SerDesError,
    ValidationError,
)
from replayflow._event_check import check_read
from replayflow._frozen import Record, init
from replayflow._ids import operation_id
from replayflow._interpreter import Scope
from replayflow._serdes import DEFAULT_SERDES, ENVELOPE_HEAD, SerDes, dumps, loads, serdes_for
from replayflow._wire import FAILURE_STATUSES, ErrorObjectDict, OperationDict, Status

from .base import BLOCKED, DurableOperation, Host, Throw, check_name, field
from .child import complete_context, context_update, start_body
from .outcome import error_object, recorded_as, recorded_error, start, too_large, with_error

if TYPE_CHECKING:
    import threading

    from replayflow._interpreter import Frame

__all__ = [
    "BatchConfig",
    "BatchItem",
    "BatchItemStatus",
    "BatchResult",
    "BatchSerDes",
    "CompletionConfig",
    "CompletionReason",
    "Identity",
    "MapOp",
    "NestingType",
    "ParallelBranch",
    "ParallelOp",
]

T = TypeVar("T")


class NestingType(enum.Enum):
    """Whether each branch gets a CONTEXT operation of its own."""

    NESTED = "NESTED"  #: a ParallelBranch/MapIteration context per branch (visible in the history)
    FLAT = "FLAT"  #: virtual branch contexts: fewer operations; results live in the batch's checkpoint


class CompletionReason(enum.Enum):
    ALL_COMPLETED = "ALL_COMPLETED"
    MIN_SUCCESSFUL_REACHED = "MIN_SUCCESSFUL_REACHED"
    FAILURE_TOLERANCE_EXCEEDED = "FAILURE_TOLERANCE_EXCEEDED"


class BatchItemStatus(enum.Enum):
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    STARTED = "STARTED"  #: started, but the batch completed before the branch did


def _non_negative_int(name: str, value: object) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ValidationError(f"{name} must be a non-negative int, got {value!r}")


class CompletionConfig(Record):
    """When a batch is done. Failures are tolerated *until they strictly exceed* a tolerance.

    With nothing set the batch is fail-fast (``all_successful``). Setting only ``min_successful`` tolerates
    any number of failures. The batch completes at the first of: tolerance exceeded
    (``FAILURE_TOLERANCE_EXCEEDED``), ``min_successful`` successes (``MIN_SUCCESSFUL_REACHED``), every
    branch finished (``ALL_COMPLETED``).
    """

    __slots__ = ("min_successful", "tolerated_failure_count", "tolerated_failure_percentage")
    min_successful: int | None
    tolerated_failure_count: int | None
    tolerated_failure_percentage: float | None

    def __init__(
        self,
        min_successful: int | None = None,
        tolerated_failure_count: int | None = None,
        tolerated_failure_percentage: float | None = None,
    ) -> None:
        init(self, "min_successful", min_successful)
        init(self, "tolerated_failure_count", tolerated_failure_count)
        init(self, "tolerated_failure_percentage", tolerated_failure_percentage)
        _non_negative_int("tolerated_failure_count", self.tolerated_failure_count)
        _non_negative_int("min_successful", self.min_successful)
        if self.min_successful is not None and self.min_successful < 1:
            raise ValidationError(f"min_successful must be at least 1, got {self.min_successful}")
        pct = self.tolerated_failure_percentage
        if pct is not None and (isinstance(pct, bool) or not isinstance(pct, int | float) or not 0 <= pct <= 100):
            raise ValidationError(f"tolerated_failure_percentage must be between 0 and 100, got {pct!r}")

    @classmethod
    def all_successful(cls) -> CompletionConfig:
        """Stop at the first failure (the default)."""
        return cls(tolerated_failure_count=0)

    @classmethod
    def all_completed(cls) -> CompletionConfig:
        """Run every branch whatever fails."""
        return cls(tolerated_failure_percentage=100)

    @classmethod
    def first_successful(cls) -> CompletionConfig:
        """Stop at the first success."""
        return cls(min_successful=1)

    def evaluate(self, succeeded: int, failed: int, total: int, finished: bool) -> CompletionReason | None:
        """The reason to complete now, or ``None`` to keep going."""
        if self._intolerable(failed, total):
            return CompletionReason.FAILURE_TOLERANCE_EXCEEDED
        if self.min_successful is not None and succeeded >= self.min_successful:
            return CompletionReason.MIN_SUCCESSFUL_REACHED
        return CompletionReason.ALL_COMPLETED if finished else None

    def _intolerable(self, failed: int, total: int) -> bool:
        """Whether ``failed`` of ``total`` branches strictly exceed a tolerance (nothing set: none tolerated)."""
        count, pct = self.tolerated_failure_count, self.tolerated_failure_percentage
        if count is None and pct is None and self.min_successful is None:
            count = 0
        if count is not None and failed > count:
            return True
        return pct is not None and bool(total) and failed * 100 > pct * total


class BatchItem(Record, Generic[T]):
    """One branch's outcome."""

    __slots__ = ("error", "index", "name", "result", "status")
    index: int
    status: BatchItemStatus
    result: T | None
    error: DurableOperationError | None
    name: str | None

    def __init__(
        self,
        index: int,
        status: BatchItemStatus,
        result: T | None = None,
        error: DurableOperationError | None = None,
        name: str | None = None,
    ) -> None:
        init(self, "index", index)
        init(self, "status", status)
        init(self, "result", result)
        init(self, "error", error)
        init(self, "name", name)


class BatchResult(Record, Generic[T]):
    """The outcome of a parallel or map: one item per *started* branch, in branch order."""

    __slots__ = ("all", "completion_reason")
    all: tuple[BatchItem[T], ...]
    completion_reason: CompletionReason

    def __init__(
        self, all: Iterable[BatchItem[T]], completion_reason: CompletionReason = CompletionReason.ALL_COMPLETED
    ) -> None:
        init(self, "all", tuple(all))
        init(self, "completion_reason", completion_reason)

    def __iter__(self) -> Iterator[BatchItem[T]]:
        return iter(self.all)

    def __len__(self) -> int:
        return len(self.all)

    def succeeded(self) -> list[BatchItem[T]]:
        return [i for i in self.all if i.status is BatchItemStatus.SUCCEEDED]

    def failed(self) -> list[BatchItem[T]]:
        return [i for i in self.all if i.status is BatchItemStatus.FAILED]

    def started(self) -> list[BatchItem[T]]:
        """Branches that were still running when the batch completed."""
        return [i for i in self.all if i.status is BatchItemStatus.STARTED]

    def get_results(self) -> list[T]:
        """The results of the successful branches, in branch order."""
        return [cast("T", i.result) for i in self.all if i.status is BatchItemStatus.SUCCEEDED]  # a success's T

    def get_errors(self) -> list[DurableOperationError]:
        """The errors of the failed branches, in branch order."""
        return [i.error for i in self.all if i.status is BatchItemStatus.FAILED and i.error is not None]

    @property
    def success_count(self) -> int:
        return sum(1 for i in self.all if i.status is BatchItemStatus.SUCCEEDED)

    @property
    def failure_count(self) -> int:
        return sum(1 for i in self.all if i.status is BatchItemStatus.FAILED)

    @property
    def started_count(self) -> int:
        return sum(1 for i in self.all if i.status is BatchItemStatus.STARTED)

    @property
    def total_count(self) -> int:
        return len(self.all)

    @property
    def has_failure(self) -> bool:
        return any(i.status is BatchItemStatus.FAILED for i in self.all)

    @property
    def status(self) -> str:
        """``"FAILED"`` if any branch failed, else ``"SUCCEEDED"``."""
        return "FAILED" if self.has_failure else "SUCCEEDED"

    def raise_if_error(self) -> None:
        """Raise :class:`BatchError` (caused by the first branch error) if any branch failed."""
        for item in self.all:
            if item.status is BatchItemStatus.FAILED:
                error = item.error
                raise BatchError(
                    error.error_message if error else f"branch {item.index} failed",
                    error_type=error.error_type if error else None,
                    error_data=error.error_data if error else None,
                    stack_trace=error.stack_trace if error else None,
                ) from error

    throw_if_error = raise_if_error


class ParallelBranch(Record):
    """A named parallel branch: ``fn(ctx)``, usually a generator."""

    __slots__ = ("fn", "name")
    fn: Callable[..., Any]
    name: str | None

    def __init__(self, fn: Callable[..., Any], name: str | None = None) -> None:
        init(self, "fn", fn)
        init(self, "name", name)


# -- the batch summary checkpointed on the batch operation ---------------------------------------------------


class BatchSerDes:
    """The default serdes of a batch result: JSON with each item's payload as its item serdes wrote it.

    ``item_serdes(index)`` is the serdes of branch ``index``'s result. The summary also records how many
    branches the batch has (``branchCount``); on replay ``identity`` compares it with the code before any
    item is read, and each item's name before that item is read.
    """

    def __init__(
        self,
        item_serdes: Callable[[int], SerDes[Any]],
        count: int | None = None,
        identity: Identity | None = None,
    ) -> None:
        self.item_serdes = item_serdes
        self.count = count
        self.identity = identity

    def serialize(self, value: BatchResult[Any], context: Any) -> str:
        items = []
        for item in value.all:
            entry: dict[str, object] = {"index": item.index, "status": item.status.value}
            if item.name is not None:
                entry["name"] = item.name
            if item.status is BatchItemStatus.SUCCEEDED:
                entry["payload"] = self.item_serdes(item.index).serialize(item.result, context)
            elif item.error is not None:
                entry["error"] = error_object(item.error)
            items.append(entry)
        summary: dict[str, object] = {"completionReason": value.completion_reason.value, "items": items}
        if self.count is not None:
            summary["branchCount"] = self.count
        return dumps(summary)

    def deserialize(self, data: str, context: Any) -> BatchResult[Any]:
        if data.startswith(ENVELOPE_HEAD):  # written by the official SDK (or in its format): see _envelope
            from replayflow._envelope import read_batch

            return read_batch(data)
        raw = loads(data)
        if not isinstance(raw, dict) or ("items" not in raw and "statuses" not in raw):
            raise SerDesError(f"not a batch result replayflow can read: {data[:120]!r}")
        if self.identity is not None:
            self.identity.check_count(raw)
        if "statuses" in raw:  # a compact stripped summary (see _stripped_summary)
            return _from_statuses(raw)
        items = [self._item(entry, context) for entry in raw["items"]]
        return BatchResult(items, CompletionReason(raw["completionReason"]))

    def _item(self, entry: dict[str, Any], context: Any) -> BatchItem[Any]:
        """One recorded item (its name checked against the code's first)."""
        name = entry.get("name")
        identity = self.identity
        if identity is not None and name is not None and name != identity.branches[entry["index"]][2]:
            raise identity.renamed(entry["index"], name)
        status = BatchItemStatus(entry["status"])
        result = None
        error = None
        if status is BatchItemStatus.SUCCEEDED and entry.get("payload") is not None:
            result = self.item_serdes(entry["index"]).deserialize(entry["payload"], context)
        elif entry.get("error") is not None:
            error = _branch_error(entry["error"], None, name)
        return BatchItem(entry["index"], status, result, error, name)


#: One letter per item status in a compact stripped summary.
_STATUS_LETTERS = {BatchItemStatus.SUCCEEDED: "S", BatchItemStatus.FAILED: "F", BatchItemStatus.STARTED: "R"}
_LETTER_STATUSES = {letter: status for status, letter in _STATUS_LETTERS.items()}


def _stripped_summary(result: BatchResult[Any], count: int) -> str:
    """What a batch result too big for one checkpoint is replaced by: statuses (and names) only.

    When even the per-item list is over the checkpoint limit (a map of many thousand items), the
    statuses go as one letter per item (``{"completionReason", "statuses": "SSF...", "branchCount"}``), so
    the summary always fits and the batch takes the ReplayChildren path like any large child context.
    """
    items = []
    for i in result.all:
        entry: dict[str, object] = {"index": i.index, "status": i.status.value}
        if i.name is not None:
            entry["name"] = i.name
        items.append(entry)
    reason = result.completion_reason.value
    summary = dumps({"completionReason": reason, "items": items, "branchCount": count})
    if not too_large(summary):
        return summary
    letters = ["-"] * count  # "-": a branch never started
    for item in result.all:
        letters[item.index] = _STATUS_LETTERS[item.status]
    return dumps({"completionReason": reason, "statuses": "".join(letters), "branchCount": count})


def _from_statuses(raw: dict[str, Any]) -> BatchResult[Any]:
    items: list[BatchItem[Any]] = [
        BatchItem(i, _LETTER_STATUSES[c], None, None, None) for i, c in enumerate(raw["statuses"]) if c != "-"
    ]
    return BatchResult(items, CompletionReason(raw["completionReason"]))


def _branch_error(error: ErrorObjectDict, op_id: str | None, name: str | None) -> ChildContextError:
    return ChildContextError.from_error_object(error, operation_id=op_id, name=name)


# -- the descriptors -------------------------------------------------------------------------------------------


class BatchConfig(Record):
    __slots__ = ("completion", "item_serdes", "max_concurrency", "nesting", "serdes")
    max_concurrency: int | None
    completion: CompletionConfig
    nesting: NestingType
    serdes: SerDes[Any] | None
    item_serdes: SerDes[Any] | None

    def __init__(
        self,
        max_concurrency: int | None,
        completion: CompletionConfig,
        nesting: NestingType,
        serdes: SerDes[Any] | None,
        item_serdes: SerDes[Any] | None,
    ) -> None:
        init(self, "max_concurrency", max_concurrency)
        init(self, "completion", completion)
        init(self, "nesting", nesting)
        init(self, "serdes", serdes)
        init(self, "item_serdes", item_serdes)

    @staticmethod
    def make(
        max_concurrency: int | None,
        completion: CompletionConfig | None,
        nesting: NestingType,
        serdes: SerDes[Any] | None,
        item_serdes: SerDes[Any] | None,
    ) -> BatchConfig:
        if max_concurrency is not None and (
            isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) or max_concurrency < 1
        ):
            raise ValidationError(f"max_concurrency must be an int of at least 1, got {max_concurrency!r}")
        if completion is not None and not isinstance(completion, CompletionConfig):
            raise ValidationError(f"completion must be a CompletionConfig, got {completion!r}")
        if not isinstance(nesting, NestingType):
            raise ValidationError(f"nesting must be a NestingType, got {nesting!r}")
        return BatchConfig(max_concurrency, completion or CompletionConfig(), nesting, serdes, item_serdes)


#: a branch's body, its extra arguments, its name and the serdes of its result
Branch = tuple[Callable[..., Any], tuple[Any, ...], str, SerDes[Any]]


class _BatchOp(DurableOperation[BatchResult[T]]):
    __slots__ = ()
    sub_type: str = ""
    branch_sub_type: str = ""

    name: str | None
    config: BatchConfig

    def branches(self) -> list[Branch]:  # pragma: no cover - overridden
        raise NotImplementedError

    # -- interpretation: the replay table, as ``_REPLAY`` ------------------------------------------------
    #: no record: START and run the branches; SUCCEEDED: the recorded result (with ReplayChildren, re-run
    #: the branches the summary names); STARTED: run the branches (their records replay); otherwise raise
    #: the recorded error.

    def run(self, it: Host, frame: Frame) -> Any:
        op_id, rec = it.claim(frame, "CONTEXT", self.sub_type, self.name)
        branches = self.branches()  # user namers run before anything is checkpointed
        if rec is None:
            start(it, frame, context_update(frame.scope.parent_id, op_id, "START", self.sub_type, self.name), self.name)
            return self._branches(it, frame, op_id, branches, None, None, False)
        identity = Identity(self, op_id, branches)
        return _REPLAY.get(rec["Status"], _BatchOp._raise_recorded)(self, it, frame, op_id, branches, identity, rec)

    def _summary_serdes(self, branches: list[Branch], identity: Identity | None) -> BatchSerDes:
        return BatchSerDes(lambda index: branches[index][3], len(branches), identity)

    def _what(self) -> str:
        return f"{self.sub_type.lower()} {self.name!r}"

    def _succeeded(
        self, it: Host, frame: Frame, op_id: str, branches: list[Branch], identity: Identity, rec: OperationDict
    ) -> Any:
        details = rec.get("ContextDetails") or {}
        items = self._summary_serdes(branches, identity)
        if details.get("ReplayChildren"):  # too big to store: rebuild it from the branches the summary names
            replay = it.decode(items, details.get("Result"), op_id, self._what())
            return self._branches(it, frame, op_id, branches, identity, replay, False)
        serdes = self.config.serdes or items
        result = it.decode(serdes, details.get("Result"), op_id, self._what())
        if serdes is not items and isinstance(result, BatchResult):
            identity.check_result(result)  # a custom serdes' result
        return result

    def _started(
        self, it: Host, frame: Frame, op_id: str, branches: list[Branch], identity: Identity, rec: OperationDict
    ) -> Any:
        identity.check_in_flight(it.records)
        return self._branches(it, frame, op_id, branches, identity, None, True)

    def _raise_recorded(
        self, it: Host, frame: Frame, op_id: str, branches: list[Branch], identity: Identity, rec: OperationDict
    ) -> Any:
        raise Throw(_branch_error(recorded_error(rec.get("ContextDetails")), op_id, self.name))

    def _branches(
        self,
        it: Host,
        frame: Frame,
        op_id: str,
        branches: list[Branch],
        identity: Identity | None,
        replay: BatchResult[Any] | None,
        in_flight: bool,
    ) -> Any:
        """Run the branches as frames of their own; the parent resumes when the batch completes."""
        serdes = self.config.serdes or self._summary_serdes(branches, identity)
        _BatchRun(it, frame, self, branches, op_id, serdes, replay, in_flight).start_more()
        return BLOCKED


_BatchHandler = Callable[[_BatchOp[Any], Host, "Frame", str, list[Branch], "Identity", OperationDict], Any]
_REPLAY: dict[str, _BatchHandler] = {
    Status.SUCCEEDED: _BatchOp._succeeded,
    Status.STARTED: _BatchOp._started,
    **dict.fromkeys(FAILURE_STATUSES, _BatchOp._raise_recorded),
}


class ParallelOp(_BatchOp[T]):
    """``ctx.parallel(branches)``."""

    __slots__ = ()
    sub_type = "Parallel"
    branch_sub_type = "ParallelBranch"
    _fields = ("functions", "name", "config")
    functions: tuple[Callable[..., Any] | ParallelBranch, ...] = field(0)
    name: str | None = field(1)
    config: BatchConfig = field(2)

    def __new__(
        cls, functions: Sequence[Callable[..., Any] | ParallelBranch], name: str | None, config: BatchConfig
    ) -> ParallelOp[T]:
        functions = tuple(functions)
        for i, fn in enumerate(functions):
            target = fn.fn if isinstance(fn, ParallelBranch) else fn
            if not callable(target):
                raise ValidationError(f"parallel branch {i} is not callable: {fn!r}")
        return tuple.__new__(cls, (functions, name, config))

    def branches(self) -> list[Branch]:
        out: list[Branch] = []
        given = self.config.item_serdes
        for i, fn in enumerate(self.functions):
            body, name = (fn.fn, fn.name) if isinstance(fn, ParallelBranch) else (fn, None)
            out.append((body, (), name or f"parallel-branch-{i}", given or serdes_for(body)))
        return out


class MapOp(_BatchOp[T]):
    """``ctx.map(items, fn)``: ``fn(ctx, item, index, items)`` per item."""

    __slots__ = ()
    sub_type = "Map"
    branch_sub_type = "MapIteration"
    _fields = ("items", "fn", "name", "config", "item_namer")
    items: tuple[object, ...] = field(0)
    fn: Callable[..., Any] = field(1)
    name: str | None = field(2)
    config: BatchConfig = field(3)
    item_namer: Callable[[Any, int], str] | None = field(4)

    def __new__(
        cls,
        items: Sequence[object],
        fn: Callable[..., Any],
        name: str | None,
        config: BatchConfig,
        item_namer: Callable[[Any, int], str] | None,
    ) -> MapOp[T]:
        if not callable(fn):
            raise ValidationError(f"ctx.map needs a callable, got {fn!r}")
        if item_namer is not None and not callable(item_namer):
            raise ValidationError(f"item_namer must be callable, got {item_namer!r}")
        return tuple.__new__(cls, (tuple(items), fn, name, config, item_namer))

    def branches(self) -> list[Branch]:
        items = list(self.items)
        namer = self.item_namer
        serdes = self.config.item_serdes or serdes_for(self.fn)
        out: list[Branch] = []
        for i, item in enumerate(items):
            name = namer(item, i) if namer is not None else f"map-item-{i}"
            if not isinstance(name, str):
                raise ValidationError(f"item_namer must return a str, got {name!r} for item {i}")
            out.append((self.fn, (item, i, items), check_name(name), serdes))
        return out


class _BatchRun:
    """A batch in progress within one invocation."""

    def __init__(
        self,
        it: Host,
        parent: Frame,
        op: _BatchOp[Any],
        branches: list[Branch],
        op_id: str,
        serdes: SerDes[Any],
        replay: BatchResult[Any] | None,
        in_flight: bool = False,
    ) -> None:
        self.it = it
        self.parent = parent
        self.op = op
        self.op_id = op_id
        self.serdes = serdes
        self.replay = replay  # the stripped summary of a ReplayChildren batch being rebuilt
        self.config = op.config
        self.branches = branches
        self.items: dict[int, BatchItem[Any]] = {}
        self.running: dict[int, Frame] = {}
        self.succeeded = 0
        self.failed = 0
        self.next = 0
        self.done = False
        #: Replaying a batch the history holds STARTED: a branch with no record may be one the code added.
        self.in_flight = in_flight and self.config.nesting is NestingType.NESTED
        self.live_completions = 0  # branches that finished in this invocation (not settled from records)
        self.progress = False  # a recorded branch finished or holds an operation: its siblings' STARTs are durable
        #: the cancellation signal every branch's step bodies watch: one per batch, made with its first
        #: branch, since the branches still running are only ever closed together (see :meth:`_complete`)
        self.cancel: threading.Event | None = None
        if replay is not None:
            self.todo = [i.index for i in replay.all if i.status is not BatchItemStatus.STARTED]
        else:
            self.todo = list(range(len(self.branches)))

    def start_more(self) -> None:
        """Start branches up to the concurrency limit, unless the completion policy is already met."""
        limit = self.config.max_concurrency or len(self.branches) or 1
        while True:
            self._check(finished=not self.running and self.next >= len(self.todo))
            if self.done or self.next >= len(self.todo) or len(self.running) >= limit:
                return
            index = self.todo[self.next]
            self.next += 1
            self._start(index)  # a branch settled from its record is counted at once

    def _start(self, index: int) -> None:
        it = self.it
        fn, args, name, _ = self.branches[index]
        branch_id = operation_id(self.op_id, index)
        nested = self.config.nesting is NestingType.NESTED
        replay_children = self.replay is not None
        if nested:
            rec = it.records.get(branch_id)
            if rec is not None:
                if self._settled(index, branch_id, name, rec):
                    return
                replay_children = replay_children or rec["Status"] == Status.SUCCEEDED
            elif not replay_children:
                self._start_branch(index, branch_id, name)
        sub_type = self.op.branch_sub_type
        scope = Scope(it.records, branch_id, branch_id if nested else self.op_id, f"{sub_type} {name!r}")
        gen = start_body(fn, (it.make_context(scope), *args), {})
        done = _BranchDone(self, index, branch_id, name, nested and not replay_children)
        cancel = self.cancel
        if cancel is None:
            cancel = self.cancel = it.new_cancellation(self.parent.cancel)
        self.running[index] = it.spawn(gen, scope, done, cancel)

    def _settled(self, index: int, branch_id: str, name: str, rec: OperationDict) -> bool:
        """Settle a nested branch from its record if it finished (True); else it is to run (again)."""
        check_read(rec, branch_id)
        self._check_identity(rec, branch_id, name)
        status = rec["Status"]
        if self.in_flight and not self.progress:
            self.progress = status != Status.STARTED or operation_id(branch_id, 1) in self.it.records
        details = rec.get("ContextDetails") or {}
        if status == Status.SUCCEEDED and not details.get("ReplayChildren"):
            what = f"{self.op.branch_sub_type} {name!r}"
            value = self.it.decode(self.branches[index][3], details.get("Result"), branch_id, what)
            self._record(index, True, value, name)
            return True
        if status == Status.FAILED:
            self._record(index, False, _branch_error(recorded_error(details), branch_id, name), name)
            return True
        return False

    def _start_branch(self, index: int, branch_id: str, name: str) -> None:
        """Checkpoint a nested branch's START (after checking the code did not add it to a batch in flight)."""
        if self.in_flight and self.progress and not self.live_completions and index:
            # the first run started this many branches and would have started this one with them
            Identity(self.op, self.op_id, self.branches).added(index)
        self.it.enqueue(context_update(self.op_id, branch_id, "START", self.op.branch_sub_type, name))

    def _check_identity(self, rec: OperationDict, branch_id: str, name: str) -> None:
        op = self.op
        if not recorded_as(rec, "CONTEXT", op.branch_sub_type, name, self.op_id):
            from replayflow._interpreter import describe, describe_record

            raise NonDeterminismError(
                f"Non-deterministic execution: branch of {op.sub_type.lower()} {op.name!r} (id {branch_id}) was "
                f"recorded as {describe_record(rec)}, but the code now runs "
                f"{describe('CONTEXT', op.branch_sub_type, name, self.op_id)}.",
                operation_id=branch_id,
                name=name,
                recorded=describe_record(rec),
                attempted=describe("CONTEXT", op.branch_sub_type, name, self.op_id),
            )

    def _branch_done(self, index: int, branch_id: str, name: str, checkpoint: bool, ok: bool, value: Any) -> None:
        self.running.pop(index, None)
        if self.done:
            return
        self.live_completions += 1
        if checkpoint:
            ok, value = self._checkpoint_branch(index, branch_id, name, ok, value)
        elif not ok and not isinstance(value, ChildContextError):
            value = _branch_error(error_object(value), branch_id, name)
        self._record(index, ok, value, name)
        self.start_more()

    def _checkpoint_branch(self, index: int, branch_id: str, name: str, ok: bool, value: Any) -> tuple[bool, Any]:
        """SUCCEED or FAIL a nested branch's CONTEXT; ``(ok, value or branch error)`` as replay will see it."""
        sub_type, serdes = self.op.branch_sub_type, self.branches[index][3]
        if ok:
            if serdes is DEFAULT_SERDES and _is_structured(value):
                _warn_untyped(self.op, value)
            try:
                return True, complete_context(self.it, self.op_id, branch_id, name, sub_type, serdes, value)[1]
            except RetryableSerDesError:
                raise
            except SerDesError as error:
                value = error
        err = error_object(value)
        self.it.enqueue(with_error(context_update(self.op_id, branch_id, "FAIL", sub_type, name), err))
        return False, _branch_error(err, branch_id, name)

    def _record(self, index: int, ok: bool, value: Any, name: str) -> None:
        if ok:
            self.succeeded += 1
            self.items[index] = BatchItem(index, BatchItemStatus.SUCCEEDED, value, None, name)
        else:
            self.failed += 1
            self.items[index] = BatchItem(index, BatchItemStatus.FAILED, None, value, name)

    def _check(self, *, finished: bool) -> None:
        if self.done:
            return
        if self.replay is not None:
            if finished:
                self._complete(self.replay.completion_reason)
            return
        reason = self.config.completion.evaluate(self.succeeded, self.failed, len(self.branches), finished)
        if reason is not None:
            self._complete(reason)

    def _complete(self, reason: CompletionReason) -> None:
        self.done = True
        it = self.it
        for index, frame in self.running.items():
            it.close(frame)
            self.items[index] = BatchItem(index, BatchItemStatus.STARTED, None, None, self.branches[index][2])
        self.running.clear()
        result: BatchResult[Any] = BatchResult([self.items[i] for i in sorted(self.items)], reason)
        if self.replay is not None:
            it.resume(self.parent, result)
            return
        op = self.op
        try:
            _, value = complete_context(
                it,
                self.parent.scope.parent_id,
                self.op_id,
                op.name,
                op.sub_type,
                self.serdes,
                result,
                _stripped_summary(result, len(self.branches)),
            )
        except RetryableSerDesError:
            raise
        except SerDesError as error:
            err = error_object(error)
            failed = context_update(self.parent.scope.parent_id, self.op_id, "FAIL", op.sub_type, op.name)
            it.enqueue(with_error(failed, err))
            it.resume(self.parent, None, _branch_error(err, self.op_id, op.name))
            return
        it.operation_ended(self.parent, self.op_id, "CONTEXT", op.sub_type, op.name, "SUCCEEDED", None)
        it.resume(self.parent, value)


class _BranchDone:
    """A branch frame's ``on_done``: one slotted object per branch (a closure would be eight objects)."""

    __slots__ = ("batch", "branch_id", "checkpoint", "index", "name")

    def __init__(self, batch: _BatchRun, index: int, branch_id: str, name: str, checkpoint: bool) -> None:
        self.batch = batch
        self.index = index
        self.branch_id = branch_id
        self.name = name
        self.checkpoint = checkpoint

    def __call__(self, frame: Frame, ok: bool, value: Any) -> None:
        self.batch._branch_done(self.index, self.branch_id, self.name, self.checkpoint, ok, value)


class Identity:
    """A batch's identity (its branch count and branch names) checked against what the history recorded.

    Completed batches are checked from their summary (``branchCount`` and each item's name), in-flight ones
    from their branch records: a record beyond the code's last branch means branches were removed; a
    branch with no record that the first run would have started with the others means one was added.
    """

    __slots__ = ("branches", "op", "op_id")

    def __init__(self, op: _BatchOp[Any], op_id: str, branches: list[Branch]) -> None:
        self.op = op
        self.op_id = op_id
        self.branches = branches

    def _unit(self, count: int) -> str:
        noun = "item" if self.op.sub_type == "Map" else "branch"
        return f"{count} {noun}{'' if count == 1 else ('es' if noun == 'branch' else 's')}"

    def _fail(self, recorded: str, attempted: str, detail: str = "") -> NonDeterminismError:
        op = self.op
        what = f"{op.sub_type.lower()} {op.name!r}" if op.name else f"unnamed {op.sub_type.lower()}"
        return NonDeterminismError(
            f"Non-deterministic execution: {what} (id {self.op_id}) was recorded with {recorded}, but the code "
            f"now has {attempted}{detail}. The items and branches of a map or parallel are part of its identity: "
            f"deploy the change as a new version.",
            operation_id=self.op_id,
            name=op.name,
            recorded=recorded,
            attempted=attempted,
        )

    def check_count(self, raw: object) -> None:
        """Compare a recorded batch summary's branch count with the code (before any of its items is read)."""
        if not isinstance(raw, dict):
            return  # not a summary: reading it fails with a SerDesError
        count = len(self.branches)
        recorded = raw.get("branchCount")
        entries = raw.get("items") or ()
        if not isinstance(recorded, int):  # a summary from before branchCount: the started branches show
            indexes: list[int] = [
                e["index"] for e in entries if isinstance(e, dict) and isinstance(e.get("index"), int)
            ]
            if indexes and max(indexes) >= count:
                raise self._fail(f"at least {self._unit(max(indexes) + 1)}", self._unit(count))
        elif recorded != count:
            raise self._fail(self._unit(recorded), self._unit(count))

    def check_result(self, result: BatchResult[Any]) -> None:
        """Compare a completed batch's result (read by a custom serdes) with the code."""
        count = len(self.branches)
        for item in result.all:
            if item.index >= count:
                raise self._fail(f"at least {self._unit(item.index + 1)}", self._unit(count))
            if item.name is not None and item.name != self.branches[item.index][2]:
                raise self.renamed(item.index, item.name)

    def check_in_flight(self, records: dict[str, OperationDict]) -> None:
        """A batch still running: a recorded branch beyond the code's last one means branches were removed."""
        count = len(self.branches)
        beyond = operation_id(self.op_id, count)
        if beyond in records or operation_id(beyond, 1) in records:  # a nested branch, or a flat one's operation
            raise self._fail(f"at least {self._unit(count + 1)}", self._unit(count), " (the batch is still running)")

    def added(self, index: int) -> None:
        """Branch ``index`` has no record, but the first run started every branch before it together."""
        raise self._fail(
            self._unit(index),
            self._unit(len(self.branches)),
            f" (the batch is still running: {self._unit(index)} started, and the code would start another)",
        )

    def renamed(self, index: int, name: str) -> NonDeterminismError:
        """Branch ``index`` was recorded as ``name``; the code names it otherwise."""
        current = self.branches[index][2]
        return self._fail(
            f"branch {index} named {name!r}", f"branch {index} named {current!r}", " (a branch was renamed)"
        )


_log = logging.getLogger("replayflow")
_WARNED: set[tuple[str, str | None, type]] = set()


def _is_structured(value: object) -> bool:
    """A dataclass, attrs class or record instance (what cattrs turns into a dict); no import needed to tell."""
    cls = type(value)
    return hasattr(cls, "__dataclass_fields__") or hasattr(cls, "__attrs_attrs__") or isinstance(value, Record)


def _warn_untyped(op: _BatchOp[Any], value: object) -> None:
    """A branch without a return annotation (a lambda, say) returned a dataclass: it comes back a dict."""
    key = (op.sub_type, op.name, type(value))
    if key in _WARNED:
        return
    _WARNED.add(key)
    kind = type(value).__qualname__
    _log.warning(
        "%s %r: a branch returned a %s, but its function has no return annotation (a lambda?), so the "
        "result comes back as a dict, on the first run as on replay; annotate the branch function "
        "`-> Workflow[%s]` or pass item_serdes=JsonSerDes(%s)",
        op.sub_type.lower(),
        op.name,
        kind,
        kind,
        kind,
    )
