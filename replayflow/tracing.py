"""OpenTelemetry tracing for durable executions: ``@durable(plugins=[OpenTelemetryPlugin()])``.

Needs the ``otel`` extra (``pip install 'replayflow[otel]'``: opentelemetry-api; add opentelemetry-sdk and
an exporter to send spans somewhere). ``import replayflow`` does not import this module or OpenTelemetry.

What it records, per invocation:

- one ``replayflow.invocation`` span, a child of the span active when the handler is called (say, from
  Lambda instrumentation), else of a remote parent derived from the execution ARN;
- one span per step or ``wait_for_condition`` attempt that really runs (``step <name>``), and one per
  other operation started in this invocation (``wait <name>``, ``map <name>``, ``callback <name>``...,
  ended when the operation ends or, if it is still going on, when the invocation ends). Replayed
  operations get no span. Each is a child of its parent operation's span when that is open in the same
  invocation, else of the invocation span (map and parallel branches get no span of their own: the steps
  inside them are children of the invocation span, with ``replayflow.parent_id`` naming the branch).

Attributes: ``replayflow.execution_arn``, ``replayflow.operation_id``, ``replayflow.operation_name``,
``replayflow.operation_type``, ``replayflow.operation_subtype``, ``replayflow.attempt`` and
``replayflow.outcome`` (``SUCCEEDED``, ``FAILED``, or ``PENDING`` for an operation still going on when the
invocation ended); errors are recorded as span events with status ``ERROR``.

**One trace per execution.** Every invocation of an execution belongs to the trace whose id is
:func:`execution_trace_id` (128 bits of ``blake2b(arn)``): with no active span the invocation span's
parent is a remote span context with that trace id; under an active span (another trace) the invocation
span carries a link to it instead, and the ``replayflow.execution_trace_id`` attribute.
"""

from __future__ import annotations

import threading
from contextvars import Token
from hashlib import blake2b

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanContext, Status, StatusCode, TraceFlags
from opentelemetry.util.types import AttributeValue

from ._hooks import InvocationInfo, OperationInfo, Plugin

__all__ = ["OpenTelemetryPlugin", "execution_span_context", "execution_trace_id"]


def execution_trace_id(execution_arn: str) -> int:
    """The trace id every invocation of the execution shares (never 0)."""
    return int.from_bytes(blake2b(execution_arn.encode(), digest_size=16).digest(), "big") or 1


def execution_span_context(execution_arn: str) -> SpanContext:
    """The remote span context that stands for the execution (the parent of its invocation spans)."""
    span_id = int.from_bytes(blake2b(execution_arn.encode(), digest_size=8, person=b"replayflow").digest(), "big")
    return SpanContext(
        trace_id=execution_trace_id(execution_arn),
        span_id=span_id or 1,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )


class _Invocation:
    __slots__ = ("attempts", "operations", "span")

    def __init__(self, span: Span) -> None:
        self.span = span
        self.operations: dict[str, Span] = {}  # non-step operations started in this invocation
        self.attempts: dict[tuple[str, int], tuple[Span, int, Token[Context]]] = {}  # -> span, thread id, context token


class OpenTelemetryPlugin(Plugin):
    """Spans for invocations, step attempts and operations (see the module docstring)."""

    def __init__(self, tracer_provider: trace.TracerProvider | None = None) -> None:
        from . import __version__

        self._tracer = trace.get_tracer("replayflow", __version__, tracer_provider=tracer_provider)
        self._lock = threading.Lock()
        self._running: dict[str, _Invocation] = {}  # execution ARN -> its running invocation

    # -- invocations --------------------------------------------------------------------------------------------

    def on_invocation_start(self, info: InvocationInfo) -> None:
        arn = info.execution_arn
        execution = execution_span_context(arn)
        current = trace.get_current_span().get_span_context()
        attributes: dict[str, AttributeValue] = {
            "replayflow.execution_arn": arn,
            "replayflow.first_invocation": info.is_first_invocation,
            "replayflow.execution_trace_id": format(execution.trace_id, "032x"),
        }
        if info.request_id:
            attributes["faas.invocation_id"] = info.request_id
        if current.is_valid:  # under someone else's span: keep it as the parent, link to the execution
            span = self._tracer.start_span("replayflow.invocation", attributes=attributes, links=[Link(execution)])
        else:
            parent = trace.set_span_in_context(trace.NonRecordingSpan(execution))
            span = self._tracer.start_span("replayflow.invocation", context=parent, attributes=attributes)
        with self._lock:
            stale = self._running.pop(arn, None)
            self._running[arn] = _Invocation(span)
        if stale is not None:  # the last invocation raised before it could end its spans
            _end_all(stale, "ABORTED")

    def on_invocation_end(self, info: InvocationInfo, status: str) -> None:
        with self._lock:
            state = self._running.pop(info.execution_arn, None)
        if state is not None:
            _end_all(state, status)

    # -- operations and attempts ------------------------------------------------------------------------------

    def on_operation_start(self, op: OperationInfo) -> None:
        if op.type == "STEP":
            return  # steps get a span per attempt
        state = self._running.get(op.execution_arn)
        if state is None:
            return
        span = self._start(state, op, f"{_kind(op)} {op.name or op.sub_type or op.type}", {})
        with self._lock:
            state.operations[op.operation_id] = span

    def on_operation_end(self, op: OperationInfo, status: str, error: BaseException | None) -> None:
        if op.type == "STEP":
            return
        state = self._running.get(op.execution_arn)
        if state is None:
            return
        with self._lock:
            span = state.operations.pop(op.operation_id, None)
        if span is not None:
            _finish(span, status, error)

    def on_attempt_start(self, op: OperationInfo, attempt: int) -> None:
        state = self._running.get(op.execution_arn)
        if state is None:
            return
        name = f"{_kind(op)} {op.name or op.sub_type or op.type}"
        span = self._start(state, op, name, {"replayflow.attempt": attempt})
        # the body runs on this thread right after: spans it makes (and its coroutines) are children
        token = otel_context.attach(trace.set_span_in_context(span))
        with self._lock:
            state.attempts[(op.operation_id, attempt)] = (span, threading.get_ident(), token)

    def on_attempt_end(self, op: OperationInfo, attempt: int, status: str, error: BaseException | None) -> None:
        state = self._running.get(op.execution_arn)
        if state is None:
            return
        with self._lock:
            found = state.attempts.pop((op.operation_id, attempt), None)
        if found is None:
            return
        span, thread_id, token = found
        if thread_id == threading.get_ident():  # the body ran inline; on a worker the next attach replaces it
            otel_context.detach(token)
        _finish(span, status, error)

    def _start(self, state: _Invocation, op: OperationInfo, name: str, extra: dict[str, AttributeValue]) -> Span:
        with self._lock:
            parent = state.operations.get(op.parent_id or "", state.span)
        attributes: dict[str, AttributeValue] = {
            "replayflow.execution_arn": op.execution_arn,
            "replayflow.operation_id": op.operation_id,
            "replayflow.operation_type": op.type,
            **extra,
        }
        if op.name is not None:
            attributes["replayflow.operation_name"] = op.name
        if op.sub_type is not None:
            attributes["replayflow.operation_subtype"] = op.sub_type
        if op.parent_id is not None:
            attributes["replayflow.parent_id"] = op.parent_id
        return self._tracer.start_span(name, context=trace.set_span_in_context(parent), attributes=attributes)


def _kind(op: OperationInfo) -> str:
    if op.type == "CONTEXT" and op.sub_type in ("Map", "Parallel", "WaitForCallback"):
        return op.sub_type.lower()
    return {"CHAINED_INVOKE": "invoke", "CONTEXT": "context"}.get(op.type, op.type.lower())


def _finish(span: Span, status: str, error: BaseException | None) -> None:
    span.set_attribute("replayflow.outcome", status)
    if error is not None:
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
    elif status == "FAILED":
        span.set_status(Status(StatusCode.ERROR))
    span.end()


def _end_all(state: _Invocation, status: str) -> None:
    for span, _, _ in state.attempts.values():
        _finish(span, "PENDING", None)
    for span in state.operations.values():
        _finish(span, "PENDING", None)
    state.span.set_attribute("replayflow.outcome", status)
    if status == "FAILED":
        state.span.set_status(Status(StatusCode.ERROR))
    state.span.end()
