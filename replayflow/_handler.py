"""``@replayflow.durable``: a generator workflow becomes an AWS Lambda durable handler.

One invocation: read the event, load every page of the execution's state, drive the workflow with the
interpreter, checkpoint what it did, and answer ``SUCCEEDED`` (with the JSON result), ``FAILED`` (with
the error) or ``PENDING`` (suspended; the service re-invokes later). Failures of the infrastructure
(throttling, a 5xx, a stale token) are raised instead, so that Lambda retries the invocation.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Generator
from typing import Any, Generic, TypeVar, Unpack, cast, overload

from ._alarms import ALARMS
from ._checkpoint import Checkpointer
from ._context import DurableContext
from ._envelope import payload_format
from ._errors import (
    DurableExecutionError,
    InvalidEventError,
    NonDeterminismError,
    RetryableSerDesError,
    SerDesError,
    ServiceError,
    TokenRevoked,
    ValidationError,
)
from ._event_check import check_execution, check_operations
from ._frozen import evolve
from ._gc_pause import GcPause
from ._handler_options import DurableOptions, HandlerOptions, NonDeterminismPolicy
from ._hooks import Hooks, InvocationInfo
from ._interpreter import Interpreter, Scope, SideEffectPolicy
from ._logging import DEFAULT_LOGGER
from ._ops.child import async_message, start_body
from ._ops.outcome import error_object
from ._serdes import JsonSerDes
from ._transport import Transport, current_transport
from ._wire import RESPONSE_LIMIT_BYTES, InvocationInputDict, InvocationOutputDict, OperationDict, index_by_id

__all__ = ["DurableHandler", "HandlerOptions", "NonDeterminismPolicy", "durable"]

log = logging.getLogger("replayflow")

I = TypeVar("I")  # noqa: E741
R = TypeVar("R")

Workflow = Callable[[Any, DurableContext], "Generator[Any, Any, R] | R"]


class DurableHandler(Generic[R]):
    """The Lambda handler made from a workflow: ``handler(event, lambda_context) -> dict``.

    ``handler.workflow`` is the undecorated workflow function, for tests; ``handler.options`` its
    :class:`HandlerOptions` (pass options, keyword arguments as :func:`durable` takes, or both).
    """

    def __init__(
        self, workflow: Callable[..., Any], options: HandlerOptions | None = None, /, **kwargs: Unpack[DurableOptions]
    ) -> None:
        import inspect  # when a handler is made, not when replayflow is imported

        if not callable(workflow):
            raise TypeError(f"@durable needs a function, got {workflow!r}")
        if inspect.iscoroutinefunction(workflow) or inspect.isasyncgenfunction(workflow):
            raise ValidationError(async_message(workflow))
        self.workflow = workflow
        if options is None:
            options = HandlerOptions(**kwargs)
        elif kwargs:
            options = evolve(options, **kwargs)
        self.options = options
        self.logger = options.logger if options.logger is not None else DEFAULT_LOGGER
        self.payload_format = payload_format(options.serdes)
        fmt_result = self.payload_format.result if self.payload_format is not None else None
        #: called with no context (``None``), and may return ``None``: not a :class:`SerDes` as operations use it
        self.result_serdes: Any = options.result_serdes or fmt_result or JsonSerDes()
        self._hooks = Hooks(options.plugins)
        self._input_serdes = _input_serdes(workflow)
        functools.update_wrapper(self, workflow)

    def __call__(self, event: Any, lambda_context: Any = None) -> InvocationOutputDict:
        # Loading and replaying a long history allocates only acyclic data: the cyclic garbage collector
        # would rescan all of it again and again. It is paused until the workflow reaches new work.
        pause = GcPause()
        try:
            return self._handle(event, lambda_context, pause)
        finally:
            pause.end()

    def _handle(self, event: Any, lambda_context: Any, pause: GcPause | None = None) -> InvocationOutputDict:
        invocation = parse_event(event)
        transport = self.options.transport or current_transport() or default_transport()
        arn = invocation["DurableExecutionArn"]
        state = invocation["InitialExecutionState"]
        records = index_operations(state["Operations"])
        checkpointer = Checkpointer(transport, arn, invocation["CheckpointToken"], records)
        try:
            checkpointer.load_pages(state.get("NextMarker"))
        except TokenRevoked:
            return {"Status": "PENDING"}
        execution = find_execution(arn, records)
        hooks = self._hooks
        info = None
        if hooks.active:  # (the information only plugins read is made for them)
            first = not any(op.get("Type") != "EXECUTION" for op in records.values())
            info = InvocationInfo(arn, first, getattr(lambda_context, "aws_request_id", None))
            hooks.emit("on_invocation_start", info)
        it = self.interpreter(records, arn, checkpointer, lambda_context)
        it.gc_pause = pause
        output = self._invoke(it, execution)
        if info is not None:
            hooks.emit("on_invocation_end", info, output["Status"])
        return output

    def interpreter(
        self,
        records: dict[str, OperationDict],
        arn: str,
        checkpointer: Checkpointer,
        lambda_context: Any = None,
        *,
        side_effects: SideEffectPolicy | None = None,
        hooks: Hooks | None = None,
        log_replay: bool | None = None,
    ) -> Interpreter:
        """An interpreter configured as this handler's invocations are.

        The testing toolkit's dry runs pass their own ``side_effects`` policy, ``hooks`` and ``log_replay``.
        """
        options = self.options
        it = Interpreter(
            records=records,
            arn=arn,
            checkpointer=checkpointer,
            hooks=self._hooks if hooks is None else hooks,
            log_target=self.logger,
            context_class=DurableContext,
            lambda_context=lambda_context,
            max_workers=options.max_workers,
            log_replay=options.log_replay if log_replay is None else log_replay,
            side_effects=side_effects,
            start_checkpoint_delay=options.start_checkpoint_delay,
            pipelined=options.pipelined,
        )
        it.payload_format = self.payload_format
        return it

    def run_workflow(self, it: Interpreter, execution: OperationDict) -> tuple[str, Any]:
        """Decode the execution's input and drive the workflow: ``("SUCCEEDED" | "FAILED" | "PENDING", value)``.

        Non-determinism, an unreadable history and service errors propagate (see :meth:`Interpreter.run`).
        """
        try:
            payload = (execution.get("ExecutionDetails") or {}).get("InputPayload")
            workflow_input = self._input_serdes.deserialize(payload) if payload else None
        except SerDesError as exc:
            return ("FAILED", InvalidEventError(f"the execution's input is not valid JSON: {exc}"))
        scope = Scope(it.records, None, None, "the workflow")
        gen = start_body(self.workflow, (workflow_input, it.make_context(scope)), {})
        return it.run(gen, scope)

    def _invoke(self, it: Interpreter, execution: OperationDict) -> InvocationOutputDict:
        """Drive the workflow and checkpoint its outcome; what the handler answers."""
        checkpointer = it.checkpointer
        it.at_new_work = self._arm_deadline
        try:
            try:
                status, value = self.run_workflow(it, execution)
            except (NonDeterminismError, SerDesError) as error:
                return self._aborted(checkpointer, it.arn, error)
            if status == "PENDING":
                checkpointer.flush()
                return {"Status": "PENDING"}
            if status == "FAILED":
                checkpointer.flush()
                return failed_output(value)
            return self._succeeded(checkpointer, execution, value)
        except TokenRevoked:
            return {"Status": "PENDING"}
        except ServiceError as error:
            if error.retryable:
                raise
            log.error("durable execution %s: the service rejected a checkpoint: %s", it.arn, error)
            return failed_output(error)
        finally:
            checkpointer.stop()
            if it.cancel_deadline is not None:
                it.cancel_deadline()
            it.end()

    def _aborted(
        self, checkpointer: Checkpointer, arn: str, error: NonDeterminismError | SerDesError
    ) -> InvocationOutputDict:
        """The code departed from the history, or a payload cannot be read: fail, or raise for a retry."""
        if isinstance(error, RetryableSerDesError):
            raise error
        _flush_quietly(checkpointer)  # what finished before the error is still good
        if isinstance(error, NonDeterminismError) and self.options.on_non_determinism == "retry":
            log.error("durable execution %s: %s (the invocation fails; the service retries it)", arn, error)
            raise error
        log.error("durable execution %s failed: %s", arn, error)
        return failed_output(error)

    def _succeeded(self, checkpointer: Checkpointer, execution: OperationDict, value: Any) -> InvocationOutputDict:
        try:
            result = self.result_serdes.serialize(value, None)
        except Exception as exc:
            checkpointer.flush()
            return failed_output(SerDesError(f"cannot serialize the workflow's result: {exc}"))
        if (
            result is not None
            and len(result) > RESPONSE_LIMIT_BYTES // 4
            and (len(result.encode()) > RESPONSE_LIMIT_BYTES)
        ):
            checkpointer.add({"Id": execution["Id"], "Type": "EXECUTION", "Action": "SUCCEED", "Payload": result})
            checkpointer.flush()
            return {"Status": "SUCCEEDED", "Result": ""}
        checkpointer.flush()
        output: InvocationOutputDict = {"Status": "SUCCEEDED"}
        if result is not None:
            output["Result"] = result
        return output

    def _arm_deadline(self, it: Interpreter) -> None:
        """Tell running work to stop ``shutdown_margin`` before the Lambda deadline (``it.cancel_deadline``:
        the alarm's cancel)."""
        remaining = getattr(it.lambda_context, "get_remaining_time_in_millis", None)
        if remaining is None:
            return
        try:
            seconds = float(remaining()) / 1000.0
        except Exception:
            return
        margin = min(self.options.shutdown_margin, seconds / 2)
        it.cancel_deadline = ALARMS.schedule(max(seconds - margin, 0.0), it.begin_shutdown)


@overload
def durable(workflow: Callable[..., Any], /) -> DurableHandler[Any]: ...


@overload
def durable(
    workflow: None = None, /, **options: Unpack[DurableOptions]
) -> Callable[[Callable[..., Any]], DurableHandler[Any]]: ...


def durable(workflow: Callable[..., Any] | None = None, /, **options: Unpack[DurableOptions]) -> Any:
    """Turn ``workflow(input, ctx)`` (a generator function, or a plain one) into a Lambda handler.

    Use bare (``@durable``) or with options: ``transport`` (default: the one installed with
    :func:`use_transport`, else AWS through boto3), ``plugins``, ``logger`` (a stdlib or powertools logger
    for ``ctx.logger``), ``log_replay`` (keep ``ctx.logger`` records while replaying), ``max_workers`` (threads
    for step bodies of concurrent branches), ``shutdown_margin`` (seconds before the Lambda deadline at which
    running steps are told to stop and the invocation suspends), ``result_serdes``, ``start_checkpoint_delay``
    (a step body still running after this many seconds gets its START checkpointed at once; a quicker one's
    START travels with its result), ``on_non_determinism``: ``"fail"`` (default) fails the execution with
    :class:`NonDeterminismError`; ``"retry"`` raises it from the handler instead, so the invocation fails,
    nothing is recorded, and the service retries it: roll back the change and the execution carries on.
    ``pipelined``: at-least-once steps start while the steps before them are still being checkpointed
    (in batches, by a background sender); everything is durable before a suspension, an at-most-once step,
    a callback or invoke, and the handler's return. A crash can run again every at-least-once step whose
    result the service had not acknowledged yet (README, "Pipelined checkpoints"). Per step:
    ``ctx.step(..., pipelined=True/False)``.
    ``serdes``: the handler-wide default serdes of every operation that does not set its own (steps, child
    contexts, map/parallel, callbacks, invokes, the result); :data:`OFFICIAL_FORMAT` writes every payload
    as the official AWS SDK does, so either SDK can continue the other's executions.
    """
    handler_options = HandlerOptions(**options)

    def wrap(fn: Callable[..., Any]) -> DurableHandler[Any]:
        return DurableHandler(fn, handler_options)

    if workflow is not None:
        return wrap(workflow)
    return wrap


# -- event parsing ----------------------------------------------------------------------------------------


def parse_event(event: Any) -> InvocationInputDict:
    """Check that ``event`` is a durable execution invocation; :class:`InvalidEventError` says what is wrong."""
    state = event.get("InitialExecutionState") if event.__class__ is dict else None
    if (  # the well-formed event, in a few checks (_event_problems says what is wrong with any other)
        state.__class__ is dict
        and event.get("DurableExecutionArn").__class__ is str
        and event.get("CheckpointToken").__class__ is str
        and state.get("Operations").__class__ is list
        and state.get("NextMarker").__class__ in _MARKER_TYPES
    ):
        checked: InvocationInputDict = event  # (not cast(): a call, on every invocation)
        return checked
    if not isinstance(event, dict):
        raise InvalidEventError(
            f"a durable handler must be invoked with a durable execution event (a dict), got {type(event).__name__}"
        )
    problems = _event_problems(event)
    if problems:
        keys = ", ".join(sorted(event)) or "none"
        raise InvalidEventError(
            "not a durable execution invocation event: " + "; ".join(problems) + f" (the event has keys: {keys}). "
            "A durable function must be invoked by the Lambda durable execution service."
        )
    return cast("InvocationInputDict", event)  # checked above (the operations themselves: index_operations)


_MARKER_TYPES = frozenset({str, type(None)})


def _event_problems(event: dict[str, Any]) -> list[str]:
    """What keeps ``event`` from being an invocation event (its top-level fields and their types)."""
    problems = []
    for key, kind in (("DurableExecutionArn", str), ("CheckpointToken", str), ("InitialExecutionState", dict)):
        if key not in event:
            problems.append(f"{key} is missing")
        elif not isinstance(event[key], kind):
            problems.append(f"{key} must be a {kind.__name__}, got {type(event[key]).__name__}")
    state = event.get("InitialExecutionState")
    if isinstance(state, dict):
        if not isinstance(state.get("Operations"), list):
            problems.append("InitialExecutionState.Operations must be a list")
        marker = state.get("NextMarker")
        if marker is not None and not isinstance(marker, str):
            problems.append("InitialExecutionState.NextMarker must be a string")
    return problems


def index_operations(operations: list[OperationDict]) -> dict[str, OperationDict]:
    """Operations by Id; an entry that is not an operation, or an Id that is not a string or appears twice,
    is an :class:`InvalidEventError` naming the record (:func:`check_operations`).

    Nothing inside a record is read here (:func:`~replayflow._wire.index_by_id`). Each record's other fields
    are checked when an operation reads it (``Interpreter.claim``): reading every field of a long history here
    would touch it all once more.
    """
    try:
        records = index_by_id(operations)
    except (TypeError, KeyError, AttributeError):
        records = {}
    if len(records) != len(operations):
        check_operations(operations, "InitialExecutionState.Operations")  # raises, naming the field
        raise InvalidEventError("InitialExecutionState.Operations holds an operation without a string Id")
    return records


def find_execution(arn: str, records: dict[str, OperationDict]) -> OperationDict:
    """The EXECUTION operation: its Id is the ARN's last segment (any EXECUTION operation as a fallback)."""
    op = records.get(arn.rsplit("/", 1)[-1])
    if op is not None and op.get("Type") == "EXECUTION":
        check_execution(op)
        return op
    for candidate in records.values():
        if candidate.get("Type") == "EXECUTION":
            check_execution(candidate)
            return candidate
    raise InvalidEventError(f"the execution state of {arn} has no EXECUTION operation (it carries the input)")


def failed_output(error: BaseException) -> InvocationOutputDict:
    return {"Status": "FAILED", "Error": error_object(error)}


def _flush_quietly(checkpointer: Checkpointer) -> None:
    try:
        checkpointer.flush()
    except (DurableExecutionError, TokenRevoked) as exc:
        log.warning("could not checkpoint the work done before the failure: %s", exc)


def _input_serdes(workflow: Callable[..., Any]) -> JsonSerDes:
    """Structure the input into the workflow's first parameter's annotated type, when there is one."""
    import inspect
    import typing

    try:
        params = list(inspect.signature(workflow).parameters.values())
        hints = typing.get_type_hints(workflow)
    except Exception:
        return JsonSerDes()
    if not params:
        return JsonSerDes()
    return JsonSerDes(hints.get(params[0].name))


_DEFAULT_TRANSPORT: Transport | None = None
_DEFAULT_LOCK = threading.Lock()


def default_transport() -> Transport:
    """The AWS transport (boto3 ``lambda`` client), created on first use and shared."""
    global _DEFAULT_TRANSPORT
    with _DEFAULT_LOCK:
        if _DEFAULT_TRANSPORT is None:
            from ._aws import AwsTransport

            _DEFAULT_TRANSPORT = AwsTransport()
        return _DEFAULT_TRANSPORT
