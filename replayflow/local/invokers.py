"""How the service runs a handler: the :class:`Invoker` seam and the in-process invoker.

An invoker gets the registered function, the event (the durable invocation input for a durable
function, the JSON-decoded payload for a plain one), the :class:`LambdaContext` and the transport the
handler must checkpoint through, and answers an :class:`InvocationOutcome`: the handler's output, or the
error Lambda would report (the handler raised, the process exited, the output was not JSON).
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import attrs

from replayflow._transport import Transport, use_transport

from .context import LambdaContext
from .errors import ProcessExit
from .records import Function

__all__ = [
    "InProcessInvoker",
    "InvocationOutcome",
    "Invoker",
    "ProcessExit",
    "exit_error",
    "handler_error",
    "run_in_process",
]


@attrs.frozen
class InvocationOutcome:
    """``output`` (what the handler returned, JSON-compatible) or ``error`` (an ErrorObject dict)."""

    output: Any = None
    error: dict[str, Any] | None = None


@runtime_checkable
class Invoker(Protocol):
    """Runs one invocation of a function's handler."""

    def invoke(self, function: Function, event: Any, context: LambdaContext, transport: Transport) -> InvocationOutcome:
        """Run the handler with ``event``; the handler talks to the service through ``transport``."""
        ...

    def close(self) -> None:
        """Release what the invoker holds (worker processes...)."""
        ...


def exit_error(request_id: str, status: int) -> dict[str, Any]:
    """The error Lambda reports when the runtime process exits mid-invocation."""
    reason = f"signal: {_signal_name(-status)}" if status < 0 else f"exit status {status}"
    return {
        "ErrorType": "Runtime.ExitError",
        "ErrorMessage": f"RequestId: {request_id} Error: Runtime exited with error: {reason}",
    }


def _signal_name(number: int) -> str:
    import signal

    try:
        return {signal.SIGKILL: "killed", signal.SIGTERM: "terminated", signal.SIGSEGV: "segmentation fault"}.get(
            signal.Signals(number), signal.Signals(number).name
        )
    except ValueError:
        return str(number)


def handler_error(exc: BaseException) -> dict[str, Any]:
    """The error Lambda reports for an exception the handler raised."""
    error: dict[str, Any] = {"ErrorType": type(exc).__name__, "ErrorMessage": str(exc)}
    trace = traceback.format_tb(exc.__traceback__)
    if trace:
        error["StackTrace"] = [line.rstrip("\n") for line in trace]
    return error


def marshal(output: Any) -> Any:
    """Round-trip the handler's return value through JSON, as Lambda's runtime does."""
    return json.loads(json.dumps(output))


class InProcessInvoker:
    """Calls the handler directly in the service's process (the default).

    A durable handler runs inside ``use_transport(transport)``, so ``@replayflow.durable`` handlers
    checkpoint to this service. ``ProcessExit`` / ``SystemExit`` from the handler count as the process
    exiting; other exceptions as the handler raising.
    """

    def invoke(self, function: Function, event: Any, context: LambdaContext, transport: Transport) -> InvocationOutcome:
        return run_in_process(function.resolve, event, context, transport)

    def close(self) -> None:
        return None


def run_in_process(
    resolve: Callable[[], Callable[[Any, Any], Any]], event: Any, context: LambdaContext, transport: Transport
) -> InvocationOutcome:
    """Call the handler ``resolve()`` returns with ``event`` in this process, as Lambda's runtime would.

    The handler runs inside ``use_transport(transport)``; ``ProcessExit`` / ``SystemExit`` count as the
    process exiting, other exceptions as the handler raising, an output that is not JSON as a marshal error.
    """
    try:
        handler = resolve()
        with use_transport(transport):
            output = handler(event, context)
    except ProcessExit as exc:
        return InvocationOutcome(error=exit_error(context.aws_request_id, exc.status))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
        return InvocationOutcome(error=exit_error(context.aws_request_id, code))
    except Exception as exc:
        return InvocationOutcome(error=handler_error(exc))
    try:
        return InvocationOutcome(output=marshal(output))
    except (TypeError, ValueError) as exc:
        return InvocationOutcome(
            error={"ErrorType": "Runtime.MarshalError", "ErrorMessage": f"Unable to marshal response: {exc}"}
        )
