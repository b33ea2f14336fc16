"""The one seam between the interpreter and a durable execution service.

A :class:`Transport` has the two calls a durable function makes while it runs, with the service's own
request and response shapes (the boto3 parameter and response dicts; timestamps as epoch milliseconds).
Three implementations exist: :class:`replayflow.AwsTransport` (boto3), the local durable service, and
:class:`MockTransport` for tests. Which one a handler uses is decided per invocation: the transport given
to ``@durable(transport=...)``, else the one installed with :func:`use_transport` (the local service does
this around each invocation it makes), else AWS.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from typing import Any, Protocol, cast, runtime_checkable

from ._wire import CheckpointRequest, CheckpointResponse, GetStateRequest, GetStateResponse

__all__ = ["MockTransport", "Transport", "current_transport", "use_transport"]


@runtime_checkable
class Transport(Protocol):
    """What the interpreter needs from the service. Implementations raise ``ServiceError`` on failure."""

    def checkpoint_durable_execution(self, request: CheckpointRequest) -> CheckpointResponse:
        """Persist ``request["Updates"]``; consumes the token and returns the next one."""
        ...

    def get_durable_execution_state(self, request: GetStateRequest) -> GetStateResponse:
        """Read one page of the execution's operations (does not consume the token)."""
        ...


class MockTransport:
    """A transport that hands every call to ``handler(operation, request) -> response``.

    ``operation`` is ``"CheckpointDurableExecution"`` or ``"GetDurableExecutionState"``. Raise
    ``replayflow.ServiceError`` from the handler to simulate a service error. Every request is also kept in
    :attr:`requests` as ``(operation, request)`` so tests can assert on what was sent. The handler's answers
    are taken as the service's response shapes, unchecked.
    """

    def __init__(self, handler: Callable[[str, dict[str, Any]], dict[str, Any]]) -> None:
        self._handler = handler
        self.requests: list[tuple[str, dict[str, Any]]] = []

    def checkpoint_durable_execution(self, request: CheckpointRequest) -> CheckpointResponse:
        self.requests.append(("CheckpointDurableExecution", dict(request)))
        return cast("CheckpointResponse", self._handler("CheckpointDurableExecution", dict(request)))

    def get_durable_execution_state(self, request: GetStateRequest) -> GetStateResponse:
        self.requests.append(("GetDurableExecutionState", dict(request)))
        return cast("GetStateResponse", self._handler("GetDurableExecutionState", dict(request)))


_current: contextvars.ContextVar[Transport | None] = contextvars.ContextVar("replayflow_transport", default=None)


@contextlib.contextmanager
def use_transport(transport: Transport) -> Iterator[Transport]:
    """Make ``transport`` the one durable handlers use inside the ``with`` block (this thread/context)."""
    token = _current.set(transport)
    try:
        yield transport
    finally:
        _current.reset(token)


def current_transport() -> Transport | None:
    """The transport installed by :func:`use_transport`, if any."""
    return _current.get()
