"""The service's error answers, as :class:`replayflow.ServiceError` with the real error codes and statuses."""

from __future__ import annotations

from replayflow._errors import ServiceError

__all__ = [
    "callback_timeout",
    "conflict",
    "execution_already_started",
    "invalid_parameter",
    "invalid_request_content",
    "invalid_token",
    "not_found",
    "request_too_large",
]


def invalid_parameter(message: str) -> ServiceError:
    """``InvalidParameterValueException`` (400): the request is not valid."""
    return ServiceError("InvalidParameterValueException", message, status=400)


def invalid_token(detail: str = "") -> ServiceError:
    """A stale, foreign or out-of-invocation checkpoint token (retryable for the SDKs)."""
    message = "Invalid checkpoint token" + (f": {detail}" if detail else "")
    return ServiceError("InvalidParameterValueException", message, status=400)


def not_found(message: str) -> ServiceError:
    """``ResourceNotFoundException`` (404)."""
    return ServiceError("ResourceNotFoundException", message, status=404)


def callback_timeout(message: str) -> ServiceError:
    """``CallbackTimeoutException`` (400): the callback is unknown, expired or already closed."""
    return ServiceError("CallbackTimeoutException", message, status=400)


def conflict(message: str) -> ServiceError:
    """``ResourceConflictException`` (409)."""
    return ServiceError("ResourceConflictException", message, status=409)


def execution_already_started(message: str) -> ServiceError:
    """``DurableExecutionAlreadyStartedException`` (409): the name is taken with a different payload."""
    return ServiceError("DurableExecutionAlreadyStartedException", message, status=409)


def request_too_large(message: str) -> ServiceError:
    """``RequestTooLargeException`` (413): an Invoke payload over the limit."""
    return ServiceError("RequestTooLargeException", message, status=413)


def invalid_request_content(message: str) -> ServiceError:
    """``InvalidRequestContentException`` (400): Lambda could not parse the request body (Invoke's payload)."""
    return ServiceError("InvalidRequestContentException", message, status=400)
