"""Every exception the local durable service raises, in replayflow's error tree (:mod:`replayflow._errors`).

* The API's error answers are :class:`LocalServiceError` subclasses of :class:`replayflow.ServiceError`, one
  per AWS error code, with AWS's HTTP status: the HTTP face answers ``code`` and ``status`` as they are.
* A bad setting or argument given in code (a function name, a handler, a clock) is a
  :class:`replayflow.ValidationError` (a ``ValueError``); the ones that are about a value's type are also
  ``TypeError``\\ s, as they were.
* A store that cannot be used is a :class:`StoreError`.
* :class:`ProcessExit` is not an error but a simulated process exit (see its docstring).
"""

from __future__ import annotations

from typing import ClassVar

from replayflow._errors import DurableExecutionError, ServiceError, ValidationError

__all__ = [
    "CallbackClosedError",
    "ConfigurationError",
    "ExecutionAlreadyStartedError",
    "HandlerNotCallableError",
    "HandlerSpecError",
    "InvalidCheckpointTokenError",
    "InvalidParameterValueError",
    "InvalidRequestContentError",
    "LocalServiceError",
    "NeedsVirtualClockError",
    "ProcessExit",
    "RequestTooLargeError",
    "ResourceNotFoundError",
    "SerializationError",
    "StoreError",
    "StoreLockedError",
]


class LocalServiceError(ServiceError):
    """An error answer of the local service's API: ``CODE`` and ``STATUS`` are AWS's for it (a subclass
    names them: ``class X(LocalServiceError, code="...", status=400)``)."""

    CODE: ClassVar[str] = "ServiceException"
    STATUS: ClassVar[int] = 500

    def __init_subclass__(cls, *, code: str | None = None, status: int | None = None) -> None:
        super().__init_subclass__()
        if code is not None:
            cls.CODE = code
        if status is not None:
            cls.STATUS = status

    def __init__(self, message: str) -> None:
        super().__init__(self.CODE, message, status=self.STATUS)


class InvalidParameterValueError(LocalServiceError, code="InvalidParameterValueException", status=400):
    """``InvalidParameterValueException`` (400): the request is not valid."""


class InvalidCheckpointTokenError(InvalidParameterValueError):
    """A stale, foreign or out-of-invocation checkpoint token (retryable for the SDKs)."""

    def __init__(self, detail: str = "") -> None:
        super().__init__("Invalid checkpoint token" + (f": {detail}" if detail else ""))


class ResourceNotFoundError(LocalServiceError, code="ResourceNotFoundException", status=404):
    """``ResourceNotFoundException`` (404)."""


class CallbackClosedError(LocalServiceError, code="CallbackTimeoutException", status=400):
    """``CallbackTimeoutException`` (400): the callback is unknown, expired or already closed."""


class ExecutionAlreadyStartedError(LocalServiceError, code="DurableExecutionAlreadyStartedException", status=409):
    """``DurableExecutionAlreadyStartedException`` (409): the name is taken with a different payload."""


class RequestTooLargeError(LocalServiceError, code="RequestTooLargeException", status=413):
    """``RequestTooLargeException`` (413): an Invoke payload over the limit."""


class InvalidRequestContentError(LocalServiceError, code="InvalidRequestContentException", status=400):
    """``InvalidRequestContentException`` (400): Lambda could not parse the request body (Invoke's payload)."""


class SerializationError(LocalServiceError, code="SerializationException", status=400):
    """``SerializationException`` (400): a REST request body that is not a JSON object."""


class ConfigurationError(ValidationError):
    """A setting of the local service given in code is invalid (a function name, a timeout, an address)."""


class HandlerSpecError(ConfigurationError):
    """A handler given as a string that is not ``"module:attribute"``."""


class HandlerNotCallableError(ValidationError, TypeError):
    """A handler that cannot be called."""


class NeedsVirtualClockError(ValidationError, TypeError):
    """Moving time by hand needs a :class:`~replayflow.local.VirtualClock`."""


class StoreError(DurableExecutionError):
    """A store that cannot be used: missing, not a replayflow store, unreadable, or read-only."""


class StoreLockedError(StoreError):
    """Another live process owns (writes) the store."""


class ProcessExit(BaseException):
    """Raise it from a handler run in-process to simulate the Lambda process exiting with ``status``.

    The service records what it records for a real crash: ``InvocationCompleted`` with
    ``Runtime.ExitError``, then re-invokes.

    It is a ``BaseException`` on purpose, outside replayflow's error tree, like ``SystemExit``: a process
    exit ends the invocation wherever it is raised, so neither a step body's nor a handler's
    ``except Exception`` (nor replayflow's own, which records step failures) may catch it.
    """

    def __init__(self, status: int = 1) -> None:
        super().__init__(f"process exited with status {status}")
        self.status = status
