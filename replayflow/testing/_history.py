"""``History``: describe a checkpoint history in a few readable lines.

The builder writes *real wire histories*: ``Operation`` dicts with the service's field names, ids derived
exactly as the interpreter derives them, payloads serialized with the default JSON serdes and errors
encoded as the interpreter encodes them. A history built here is indistinguishable from one the service
recorded (timestamps come from a fake clock that starts at :data:`EPOCH` and moves only when told to)::

    h = History({"order": 7})
    h.step("reserve", result={"sku": "A1"})
    h.wait("cool-off", elapsed=False)
    with h.child("billing"):
        h.step("charge", error=ValueError("card declined"))
"""

from __future__ import annotations

import base64
import copy
import datetime as _dt
from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Final, Literal, Unpack, cast

import orjson

from replayflow._errors import (
    ChildContextError,
    DurableOperationError,
    ValidationError,
)
from replayflow._ids import operation_id
from replayflow._ops.batch import BatchItem, BatchItemStatus, BatchResult, BatchSerDes, CompletionReason
from replayflow._ops.callback import Callback, callback_error
from replayflow._ops.outcome import error_object
from replayflow._serdes import PassThroughSerDes, dumps
from replayflow._wire import (
    CallbackDetailsDict,
    ErrorObjectDict,
    ExecutionDetailsDict,
    OperationDict,
    StepDetailsDict,
)

__all__ = ["DEFAULT_ARN", "EPOCH", "UNSET", "BatchBlock", "ContextBlock", "ErrorLike", "History"]


class _Unset:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


#: "Not given" (``None`` is a valid result).
UNSET: Final = _Unset()

#: Where the fake clock starts: 2025-01-01T00:00:00Z.
EPOCH: Final = _dt.datetime(2025, 1, 1, tzinfo=_dt.UTC)

#: The ARN of builder histories; its last segment is the EXECUTION operation's id.
DEFAULT_ARN: Final = (
    "arn:aws:lambda:us-east-1:123456789012:function:workflow:$LATEST/durable-execution/test-execution/execution-1"
)

#: An error as the builder accepts it: an exception, a message (``ErrorType`` "Exception"), or an ErrorObject.
ErrorLike = BaseException | str | Mapping[str, Any]

Nesting = Literal["NESTED", "FLAT"]


def error_dict(error: ErrorLike) -> ErrorObjectDict:
    """The wire ``ErrorObject`` the interpreter would record for ``error``."""
    if isinstance(error, BaseException):
        return error_object(error)
    if isinstance(error, str):
        return {"ErrorType": "Exception", "ErrorMessage": error}
    if isinstance(error, Mapping):
        return cast("ErrorObjectDict", dict(error))  # given as the wire's ErrorObject
    raise ValidationError(f"an error must be an exception, a message or an ErrorObject dict, got {error!r}")


def _payload(result: object, payload: str | None, what: str) -> str:
    if payload is not None:
        if result is not UNSET:
            raise ValidationError(f"{what}: give result= or payload=, not both")
        if not isinstance(payload, str):
            raise ValidationError(f"{what}: payload= must be the raw payload string, got {payload!r}")
        return payload
    return dumps(None if result is UNSET else result)


def _pending_step(what: str, retrying: int | None, ready: int | None, started: bool, error: ErrorLike | None) -> bool:
    """Whether a step waits for a retry (``retrying=`` / ``ready=``); refuses contradicting arguments."""
    pending = retrying is not None or ready is not None
    if retrying is not None and ready is not None:
        raise ValidationError(f"{what}: give retrying= or ready=, not both")
    if started and (pending or error is not None):
        raise ValidationError(f"{what}: a started step has no error and no pending retry")
    return pending


def _finished_step(
    what: str, result: object, payload: str | None, error: ErrorLike | None, attempts: int | None
) -> tuple[str, StepDetailsDict]:
    """The status and details of a step that succeeded (with ``result`` / ``payload``) or failed (``error``)."""
    attempt = attempts if attempts is not None else 1
    if error is None:
        return "SUCCEEDED", {"Attempt": attempt, "Result": _payload(result, payload, what)}
    if result is not UNSET or payload is not None:
        raise ValidationError(f"{what}: give result= or error=, not both")
    return "FAILED", {"Attempt": attempt, "Error": error_dict(error)}


def _gave_up(attempts: int, state: str | None) -> ErrorObjectDict:
    """The error of a ``wait_for_condition`` whose wait strategy gave up (with the last state, if any)."""
    err: ErrorObjectDict = {
        "ErrorType": "replayflow.WaitForConditionError",
        "ErrorMessage": f"the condition was still not met after {attempts} attempts",
    }
    if state is not None:
        err["ErrorData"] = state
    return err


def _branch_outcome(
    what: str, result: object, payload: str | None, error: ErrorLike | None
) -> tuple[str, str | None, ErrorObjectDict | None]:
    """``(status, result payload, error)`` of a batch branch."""
    has_result = result is not UNSET or payload is not None
    if error is not None:
        err = error_dict(error)
        if has_result:
            raise ValidationError(f"{what}: give result= or error=, not both")
        return "FAILED", None, err
    if has_result:
        return "SUCCEEDED", _payload(result, payload, what), None
    return "STARTED", None, None


#: The errors of a callback that timed out (``Callback.Heartbeat``: no heartbeat in time).
_HEARTBEAT_TIMED_OUT: Final[ErrorObjectDict] = {
    "ErrorType": "Callback.Heartbeat",
    "ErrorMessage": "no heartbeat within the heartbeat timeout",
}
_CALLBACK_TIMED_OUT: Final[ErrorObjectDict] = {
    "ErrorType": "Callback.Timeout",
    "ErrorMessage": "the callback timed out",
}


class _Scope:
    """Where the next operation goes: its id prefix, its ParentId and its counter."""

    __slots__ = ("counter", "parent_id", "prefix")

    def __init__(self, prefix: str | None, parent_id: str | None) -> None:
        self.prefix = prefix
        self.parent_id = parent_id
        self.counter = 0

    def take(self) -> str:
        self.counter += 1
        return operation_id(self.prefix, self.counter)


class _NoScope(_Scope):
    """Directly inside a parallel/map block: operations belong in a branch."""

    __slots__ = ("name",)

    def __init__(self, name: str | None) -> None:
        super().__init__(None, None)
        self.name = name

    def take(self) -> str:
        raise ValidationError(
            f"operations of the batch {self.name!r} run in its branches: add them inside "
            f"`with block.branch(...):` (or `block.item(...)` for a map)"
        )


class History:
    """A checkpoint history under construction; see the module docstring.

    ``input`` is the workflow's input (``payload=`` gives the raw InputPayload string instead). Every
    operation method returns the new operation's id; ``child``, ``parallel`` and ``map`` return a block
    that is also a context manager: operations added inside ``with`` belong to it.
    """

    def __init__(
        self,
        input: object = None,
        *,
        payload: str | None = None,
        arn: str = DEFAULT_ARN,
        start: _dt.datetime = EPOCH,
    ) -> None:
        self.arn = arn
        self.execution_id = arn.rsplit("/", 1)[-1]
        self._now = _ms(start)
        self._ops: list[OperationDict] = []
        self._by_id: dict[str, OperationDict] = {}
        self._scopes: list[_Scope] = [_Scope(None, None)]
        if payload is None and input is not None:
            payload = dumps(input)
        details: ExecutionDetailsDict = {} if payload is None else {"InputPayload": payload}
        self._append(
            {
                "Id": self.execution_id,
                "Type": "EXECUTION",
                "Status": "STARTED",
                "Name": arn.rsplit("/", 2)[-2] if arn.count("/") >= 2 else self.execution_id,
                "StartTimestamp": self._now,
                "ExecutionDetails": details,
            }
        )

    # -- the clock -------------------------------------------------------------------------------------------

    @property
    def now(self) -> _dt.datetime:
        """The fake clock: the timestamp the next operation gets."""
        return _dt.datetime.fromtimestamp(self._now / 1000, _dt.UTC)

    def advance(self, seconds: float | _dt.timedelta) -> History:
        """Move the fake clock forward."""
        if isinstance(seconds, _dt.timedelta):
            seconds = seconds.total_seconds()
        if seconds < 0:
            raise ValidationError(f"the clock only moves forward, got {seconds} s")
        self._now += round(seconds * 1000)
        return self

    # -- operations ------------------------------------------------------------------------------------------

    def step(
        self,
        name: str | None = None,
        *,
        result: object = UNSET,
        payload: str | None = None,
        error: ErrorLike | None = None,
        retrying: int | None = None,
        ready: int | None = None,
        started: bool = False,
        attempts: int | None = None,
        retry_delay: int = 1,
        duration: float = 0,
        sub_type: str = "Step",
    ) -> str:
        """A step (``ctx.step``). It succeeded with ``result`` (default ``None``) unless told otherwise.

        ``error=`` failed for good; ``retrying=n``: n attempts failed and a retry is scheduled (PENDING,
        ``error`` is the last failure); ``ready=n``: n attempts failed and the retry delay has passed
        (READY); ``started=True``: an attempt began and never finished (STARTED). ``attempts`` is the
        number of attempts made (default 1 for a finished step). ``duration`` is the virtual time the
        attempts took (retry delays included): the clock moves on by that much.
        """
        what = f"step {name!r}"
        pending = _pending_step(what, retrying, ready, started, error)
        op = self._new("STEP", sub_type, name)
        self.advance(duration)
        if pending:
            has_result = result is not UNSET or payload is not None
            op["Status"], op["StepDetails"] = self._retry(what, retrying, ready, error, has_result, retry_delay)
        elif started:
            op["Status"], op["StepDetails"] = "STARTED", {"Attempt": attempts if attempts is not None else 0}
        else:
            op["Status"], op["StepDetails"] = _finished_step(what, result, payload, error, attempts)
        self._end(op)
        return self._append(op)

    def _retry(
        self,
        what: str,
        retrying: int | None,
        ready: int | None,
        error: ErrorLike | None,
        has_result: bool,
        retry_delay: int,
    ) -> tuple[str, StepDetailsDict]:
        """The status and details of a step waiting for its next attempt (``retrying``) or due for it (``ready``)."""
        count = retrying if retrying is not None else ready
        assert count is not None
        if count < 1:
            raise ValidationError(f"{what}: retrying=/ready= count failed attempts, at least 1; got {count}")
        if has_result:
            raise ValidationError(f"{what}: a step waiting for a retry has no result")
        details: StepDetailsDict = {
            "Attempt": count,
            "Error": error_dict(error if error is not None else f"attempt {count} failed"),
        }
        if ready is not None:
            return "READY", details
        details["NextAttemptTimestamp"] = self._now + retry_delay * 1000
        return "PENDING", details

    def wait_for_condition(
        self,
        name: str | None = None,
        *,
        state: object = UNSET,
        payload: str | None = None,
        retrying: int | None = None,
        error: ErrorLike | None = None,
        gave_up: bool = False,
        attempts: int | None = None,
        retry_delay: int = 1,
        duration: float = 0,
    ) -> str:
        """A ``ctx.wait_for_condition`` poll loop: done with final ``state`` unless told otherwise.

        ``retrying=n``: n polls ran, the condition does not hold yet and ``state`` is the state the next poll
        gets (PENDING); ``gave_up=True``: the wait strategy gave up with the last ``state``; ``error=``: the
        check raised. ``duration``: the virtual time the polls took.
        """
        what = f"wait_for_condition {name!r}"
        op = self._new("STEP", "WaitForCondition", name)
        self.advance(duration)
        details: StepDetailsDict = {"Attempt": attempts if attempts is not None else (retrying or 1)}
        encoded = None if state is UNSET and payload is None else _payload(state, payload, what)
        if retrying is not None:
            op["Status"] = "PENDING"
            details["NextAttemptTimestamp"] = self._now + retry_delay * 1000
            if encoded is not None:
                details["Result"] = encoded
        elif gave_up:
            op["Status"] = "FAILED"
            details["Error"] = _gave_up(details["Attempt"], encoded)
        elif error is not None:
            op["Status"] = "FAILED"
            details["Error"] = error_dict(error)
        else:
            op["Status"] = "SUCCEEDED"
            details["Result"] = encoded if encoded is not None else dumps(None)
        op["StepDetails"] = details
        self._end(op)
        return self._append(op)

    def wait(self, name: str | None = None, *, seconds: float = 1, elapsed: bool = True) -> str:
        """A durable timer (``ctx.wait``): elapsed, or still running with ``elapsed=False``."""
        op = self._new("WAIT", "Wait", name)
        whole = max(1, int(-(-seconds // 1)))
        end = self._now + whole * 1000
        op["WaitDetails"] = {"ScheduledEndTimestamp": end}
        if elapsed:
            op["Status"] = "SUCCEEDED"
            self._now = end
            op["EndTimestamp"] = end
        else:
            op["Status"] = "STARTED"
        return self._append(op)

    def callback(
        self,
        name: str | None = None,
        *,
        result: object = UNSET,
        payload: str | None = None,
        error: ErrorLike | None = None,
        timed_out: bool = False,
        heartbeat_timed_out: bool = False,
        callback_id: str | None = None,
    ) -> str:
        """A callback (``ctx.create_callback``): pending unless it has a result, an error or timed out.

        A ``str`` result is the raw payload the external system sent (callbacks pass strings through by
        default); other values are JSON-encoded. ``callback_id`` defaults to an opaque base64 id, which
        :meth:`callback_id` looks up.
        """
        op = self._new("CALLBACK", "Callback", name)
        self._callback_details(op, name, result, payload, error, timed_out, heartbeat_timed_out, callback_id)
        return self._append(op)

    def wait_for_callback(
        self,
        name: str | None = None,
        *,
        result: object = UNSET,
        payload: str | None = None,
        error: ErrorLike | None = None,
        timed_out: bool = False,
        heartbeat_timed_out: bool = False,
        submitter_error: ErrorLike | None = None,
        callback_id: str | None = None,
    ) -> str:
        """``ctx.wait_for_callback``: its context, the callback and the submitter step, as the SDK records them.

        ``result`` is the value the workflow receives: a ``str`` is also the raw payload the external system
        sent, other values were sent as JSON (``serdes=JsonSerDes()``); ``payload=`` gives the raw payload
        (the workflow receives it as a string). Pending unless the callback has a result, an error, or timed
        out; ``submitter_error=`` makes the submitter step (and so the operation) fail.
        """
        prefix = f"{name} " if name else ""
        op = self._new("CONTEXT", "WaitForCallback", name)
        op["Status"] = "STARTED"
        context_id: str = op["Id"]
        self._append(op)
        self._scopes.append(_Scope(context_id, context_id))
        try:
            cb = self._new("CALLBACK", "Callback", f"{prefix}create callback id")
            raw = payload
            if raw is None and result is not UNSET:
                raw = result if isinstance(result, str) else dumps(result)
            self._callback_details(cb, name, UNSET, raw, error, timed_out, heartbeat_timed_out, callback_id)
            self._append(cb)
            if submitter_error is not None:
                self.step(f"{prefix}submitter", error=submitter_error)
            else:
                self.step(f"{prefix}submitter")
        finally:
            self._scopes.pop()
        status = cb["Status"]
        if submitter_error is not None:
            err = error_dict(submitter_error)
            self._finish(op, "FAILED", ContextDetails={"Error": err})
        elif status == "SUCCEEDED":
            value = raw if result is UNSET else result
            self._finish(op, "SUCCEEDED", ContextDetails={"Result": dumps(value)})
        elif status != "STARTED":
            handle: Callback[Any] = Callback(cb["Id"], cb["CallbackDetails"]["CallbackId"], name, None)
            self._finish(op, "FAILED", ContextDetails={"Error": error_object(callback_error(cb, handle))})
        return context_id

    def invoke(
        self,
        name: str | None = None,
        *,
        result: object = UNSET,
        payload: str | None = None,
        error: ErrorLike | None = None,
        timed_out: bool = False,
        stopped: bool = False,
    ) -> str:
        """A chained invoke (``ctx.invoke``): running unless it has a result, an error, timed out or stopped."""
        op = self._new("CHAINED_INVOKE", "ChainedInvoke", name)
        what = f"invoke {name!r}"
        if sum((error is not None, timed_out, stopped)) > 1:
            raise ValidationError(f"{what}: give at most one of error=, timed_out=, stopped=")
        if error is not None or timed_out or stopped:
            status = "FAILED" if error is not None else "TIMED_OUT" if timed_out else "STOPPED"
            default = {"FAILED": "failed", "TIMED_OUT": "timed out", "STOPPED": "stopped"}[status]
            self._finish(op, status, ChainedInvokeDetails={"Error": error_dict(error or f"the invoke {default}")})
        elif result is not UNSET or payload is not None:
            self._finish(op, "SUCCEEDED", ChainedInvokeDetails={"Result": _payload(result, payload, what)})
        else:
            op["Status"] = "STARTED"
            op["ChainedInvokeDetails"] = {}
        return self._append(op)

    def child(
        self,
        name: str | None = None,
        *,
        result: object = UNSET,
        payload: str | None = None,
        error: ErrorLike | None = None,
        replay_children: bool = False,
        sub_type: str = "RunInChildContext",
    ) -> ContextBlock:
        """A child context (``ctx.run_in_child_context``): running, or done with ``result=`` / ``error=``.

        Use it in a ``with`` block to add the operations it ran. ``replay_children=True`` records a result too
        big for a checkpoint (replay re-runs the child over its operations).
        """
        op = self._new("CONTEXT", sub_type, name)
        self._context_outcome(op, f"child context {name!r}", result, payload, error, replay_children)
        self._append(op)
        return ContextBlock(self, op["Id"], op["Id"])

    def parallel(
        self,
        name: str | None = None,
        *,
        results: Sequence[object] | None = None,
        completed: bool | str | CompletionReason = False,
        nesting: Nesting = "NESTED",
        error: ErrorLike | None = None,
        branch_count: int | None = None,
    ) -> BatchBlock:
        """A ``ctx.parallel``; add its branches with ``block.branch(...)``.

        ``results=[...]`` is the shortcut for a completed parallel whose branches all succeeded. Otherwise the
        parallel is running until ``completed=`` says it completed (``True`` for ``ALL_COMPLETED``, or the
        completion reason); its result is then built from the branches, as the SDK builds it.
        ``branch_count`` is how many branches the code had (default: as many as are added; more when
        the batch completed before starting them all).
        """
        return self._batch(
            "Parallel", "ParallelBranch", "parallel-branch", name, results, completed, nesting, error, branch_count
        )

    def map(
        self,
        name: str | None = None,
        *,
        results: Sequence[object] | None = None,
        completed: bool | str | CompletionReason = False,
        nesting: Nesting = "NESTED",
        error: ErrorLike | None = None,
        branch_count: int | None = None,
    ) -> BatchBlock:
        """A ``ctx.map``; add its iterations with ``block.item(...)``. Options as for :meth:`parallel`."""
        return self._batch("Map", "MapIteration", "map-item", name, results, completed, nesting, error, branch_count)

    def add(self, operation: Mapping[str, Any]) -> str:
        """Append a raw ``Operation`` dict as it is (an escape hatch for shapes the builder does not make)."""
        for key in ("Id", "Type", "Status"):
            if key not in operation:
                raise ValidationError(f"an operation needs {key}: {operation!r}")
        return self._append(cast("OperationDict", dict(operation)))  # taken as the wire's Operation, unchecked

    # -- reading ---------------------------------------------------------------------------------------------

    @property
    def operations(self) -> list[OperationDict]:
        """The history: a copy of every ``Operation`` dict, the EXECUTION operation first."""
        return copy.deepcopy(self._ops)

    def _records(self) -> list[OperationDict]:
        """The operations themselves, not copies (for replay, which only reads them)."""
        return list(self._ops)

    def operation(self, name: str) -> OperationDict:
        """The (first) operation named ``name``."""
        for op in self._ops:
            if op.get("Name") == name:
                return copy.deepcopy(op)
        raise KeyError(f"no operation named {name!r}; names: {[o.get('Name') for o in self._ops]}")

    def callback_id(self, name: str) -> str:
        """The callback id of the callback named ``name`` (for ``wait_for_callback``, the operation's name)."""
        for op in self._ops:
            if op["Type"] == "CALLBACK" and op.get("Name") in (name, f"{name} create callback id"):
                return op["CallbackDetails"]["CallbackId"]
        raise KeyError(f"no callback named {name!r}")

    @property
    def input_payload(self) -> str | None:
        return self._ops[0]["ExecutionDetails"].get("InputPayload")

    def event(self, token: str = "token-0") -> dict[str, Any]:
        """The invocation event a durable handler would get over this history."""
        return {
            "DurableExecutionArn": self.arn,
            "CheckpointToken": token,
            "InitialExecutionState": {"Operations": self.operations, "NextMarker": ""},
        }

    def to_json(self) -> str:
        """``GetDurableExecutionState``-style JSON (``{"DurableExecutionArn", "Operations"}``)."""
        return orjson.dumps(
            {"DurableExecutionArn": self.arn, "Operations": self._ops}, option=orjson.OPT_INDENT_2
        ).decode()

    def __len__(self) -> int:
        return len(self._ops)

    def __iter__(self) -> Iterator[OperationDict]:
        return iter(self.operations)

    def __repr__(self) -> str:
        lines = [f"History({len(self._ops)} operations)"]
        for op in self._ops[1:]:
            lines.append(f"  {op['Type']}/{op.get('SubType')} {op.get('Name')!r} {op['Status']}")
        return "\n".join(lines)

    # -- internals -------------------------------------------------------------------------------------------

    def _new(self, op_type: str, sub_type: str, name: str | None) -> OperationDict:
        if name is not None and not isinstance(name, str):
            raise ValidationError(f"an operation name must be a str, got {name!r}")
        scope = self._scopes[-1]
        op: OperationDict = {
            "Id": scope.take(),
            "Type": op_type,
            "SubType": sub_type,
            "StartTimestamp": self._now,
        }
        if name is not None:
            op["Name"] = name
        if scope.parent_id is not None:
            op["ParentId"] = scope.parent_id
        return op

    def _append(self, op: OperationDict) -> str:
        op_id: str = op["Id"]
        if op_id in self._by_id:
            raise ValidationError(f"operation {op_id} is already in the history")
        self._ops.append(op)
        self._by_id[op_id] = op
        return op_id

    def _end(self, op: OperationDict) -> None:
        if op["Status"] in ("SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT", "STOPPED"):
            op["EndTimestamp"] = self._now

    def _finish(self, op: OperationDict, status: str, **details: Unpack[OperationDict]) -> None:
        op["Status"] = status
        op.update(details)
        self._end(op)

    def _callback_details(
        self,
        op: OperationDict,
        name: str | None,
        result: object,
        payload: str | None,
        error: ErrorLike | None,
        timed_out: bool,
        heartbeat_timed_out: bool,
        callback_id: str | None,
    ) -> None:
        what = f"callback {name!r}"
        if sum((error is not None, timed_out, heartbeat_timed_out)) > 1:
            raise ValidationError(f"{what}: give at most one of error=, timed_out=, heartbeat_timed_out=")
        details: CallbackDetailsDict = {"CallbackId": self._next_callback_id() if callback_id is None else callback_id}
        op["CallbackDetails"] = details
        if error is not None:
            details["Error"] = error_dict(error)
            self._finish(op, "FAILED")
        elif timed_out or heartbeat_timed_out:
            details["Error"] = (_HEARTBEAT_TIMED_OUT if heartbeat_timed_out else _CALLBACK_TIMED_OUT).copy()
            self._finish(op, "TIMED_OUT")
        elif payload is not None or result is not UNSET:
            if isinstance(result, str):  # the raw payload the external system sent
                details["Result"] = _payload(UNSET, result, what)
            else:
                details["Result"] = _payload(result, payload, what)
            self._finish(op, "SUCCEEDED")
        else:
            op["Status"] = "STARTED"

    def _next_callback_id(self) -> str:
        """An opaque base64 callback id, numbered by the callbacks so far."""
        count = sum(1 for o in self._ops if o["Type"] == "CALLBACK") + 1
        return base64.b64encode(f"callback-{count}".encode()).decode()

    def _context_outcome(
        self,
        op: OperationDict,
        what: str,
        result: object,
        payload: str | None,
        error: ErrorLike | None,
        replay_children: bool,
    ) -> None:
        if error is not None:
            if result is not UNSET or payload is not None:
                raise ValidationError(f"{what}: give result= or error=, not both")
            self._finish(op, "FAILED", ContextDetails={"Error": error_dict(error)})
        elif replay_children:
            self._finish(op, "SUCCEEDED", ContextDetails={"Result": payload or "", "ReplayChildren": True})
        elif result is not UNSET or payload is not None:
            self._finish(op, "SUCCEEDED", ContextDetails={"Result": _payload(result, payload, what)})
        else:
            op["Status"] = "STARTED"  # a running context has no details yet

    def _batch(
        self,
        sub_type: str,
        branch_sub_type: str,
        default_prefix: str,
        name: str | None,
        results: Sequence[object] | None,
        completed: bool | str | CompletionReason,
        nesting: Nesting,
        error: ErrorLike | None,
        branch_count: int | None = None,
    ) -> BatchBlock:
        if nesting not in ("NESTED", "FLAT"):
            raise ValidationError(f"nesting must be 'NESTED' or 'FLAT', got {nesting!r}")
        op = self._new("CONTEXT", sub_type, name)
        self._append(op)
        block = BatchBlock(self, op, branch_sub_type, default_prefix, nesting == "NESTED")
        block.branch_count = branch_count
        if error is not None:
            self._finish(op, "FAILED", ContextDetails={"Error": error_dict(error)})
            block.reason = None
        else:
            op["Status"] = "STARTED"  # a running context has no details yet
            if results is not None:
                completed = completed or True
            if completed:
                block.reason = CompletionReason.ALL_COMPLETED if completed is True else CompletionReason(completed)
        for value in results or ():
            block.branch(result=value)
        block.refresh()
        return block


class ContextBlock:
    """A context in the history; ``with block:`` adds operations inside it."""

    __slots__ = ("_history", "id", "parent_id")

    def __init__(self, history: History, prefix: str, parent_id: str) -> None:
        self._history = history
        #: The context operation's id (the prefix of the ids of its operations).
        self.id = prefix
        #: The ParentId its operations carry.
        self.parent_id = parent_id

    def __enter__(self) -> ContextBlock:
        self._history._scopes.append(_Scope(self.id, self.parent_id))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._history._scopes.pop()


class BatchBlock:
    """A parallel or map in the history: add branches with :meth:`branch` (``item`` for maps)."""

    __slots__ = ("_branches", "_default_prefix", "_history", "_op", "_sub_type", "branch_count", "nested", "reason")

    def __init__(self, history: History, op: OperationDict, sub_type: str, default_prefix: str, nested: bool) -> None:
        self._history = history
        self._op = op
        self._sub_type = sub_type
        self._default_prefix = default_prefix
        self._branches: list[tuple[str, str, str | None, ErrorObjectDict | None]] = []  # name, status, payload, error
        self.nested = nested
        self.reason: CompletionReason | None = None
        self.branch_count: int | None = None  #: the code's branch count (default: the branches added)

    @property
    def id(self) -> str:
        """The batch operation's id."""
        return self._op["Id"]

    def branch_id(self, index: int) -> str:
        """The id of branch ``index`` (counting from 0), as the SDK derives it."""
        return operation_id(self.id, index)

    def branch(
        self,
        name: str | None = None,
        *,
        result: object = UNSET,
        payload: str | None = None,
        error: ErrorLike | None = None,
    ) -> ContextBlock:
        """The next branch (index 0, 1, ...): running, or done with ``result=`` / ``error=``.

        ``name`` defaults to the SDK's (``parallel-branch-<i>`` / ``map-item-<i>``). Use it in a ``with`` block
        to add the operations the branch ran.
        """
        index = len(self._branches)
        name = name or f"{self._default_prefix}-{index}"
        branch_id = operation_id(self.id, index)
        status, encoded, err = _branch_outcome(f"branch {name!r}", result, payload, error)
        if self.nested:
            self._add_branch_context(branch_id, name, status, encoded, err)
        self._branches.append((name, status, encoded, err))
        self.refresh()
        return ContextBlock(self._history, branch_id, branch_id if self.nested else self.id)

    def _add_branch_context(
        self, branch_id: str, name: str, status: str, encoded: str | None, err: ErrorObjectDict | None
    ) -> None:
        """The CONTEXT operation of a branch of a nested batch."""
        history = self._history
        op: OperationDict = {
            "Id": branch_id,
            "Type": "CONTEXT",
            "SubType": self._sub_type,
            "Name": name,
            "ParentId": self.id,
            "StartTimestamp": history._now,
            "Status": status,
        }
        if status != "STARTED":
            op["ContextDetails"] = {"Error": err} if err else {"Result": encoded}
        history._end(op)
        history._append(op)

    item = branch

    def refresh(self) -> None:
        """Rebuild the batch's recorded result from its branches (done after every change)."""
        if self.reason is None or self._op["Status"] == "FAILED":
            return
        items = []
        for index, (name, status, encoded, err) in enumerate(self._branches):
            if status == "SUCCEEDED":
                items.append(BatchItem(index, BatchItemStatus.SUCCEEDED, encoded, None, name))
            elif status == "FAILED":
                assert err is not None
                error: DurableOperationError = ChildContextError.from_error_object(err)
                items.append(BatchItem(index, BatchItemStatus.FAILED, None, error, name))
            else:
                items.append(BatchItem(index, BatchItemStatus.STARTED, None, None, name))
        pass_through = PassThroughSerDes()
        count = len(self._branches) if self.branch_count is None else self.branch_count
        summary = BatchSerDes(lambda index: pass_through, count).serialize(BatchResult(items, self.reason), None)
        self._op["Status"] = "SUCCEEDED"
        self._op["ContextDetails"] = {"Result": summary}
        self._op["EndTimestamp"] = self._history._now

    def __enter__(self) -> BatchBlock:
        self._history._scopes.append(_NoScope(self._op.get("Name")))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._history._scopes.pop()
        self.refresh()


def _ms(value: _dt.datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.UTC)
    return round(value.timestamp() * 1000)
