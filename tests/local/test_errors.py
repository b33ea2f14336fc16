"""The local service's errors (``replayflow.local.errors``): one tree under replayflow's, raised where they
happen, and answered over HTTP with AWS's error codes and statuses."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

import replayflow
from replayflow.local import (
    Limits,
    LocalDurableService,
    LocalHttpServer,
    ProcessExit,
    RealClock,
    StoreError,
    StoreLockedError,
    VirtualClock,
)
from replayflow.local import errors as local_errors
from replayflow.local.errors import (
    CallbackClosedError,
    ConfigurationError,
    ExecutionAlreadyStartedError,
    HandlerNotCallableError,
    HandlerSpecError,
    InvalidCheckpointTokenError,
    InvalidParameterValueError,
    InvalidRequestContentError,
    LocalServiceError,
    NeedsVirtualClockError,
    RequestTooLargeError,
    ResourceNotFoundError,
    SerializationError,
)
from replayflow.local.records import import_handler

from .workflows import approval

API_ERRORS = {
    InvalidParameterValueError: ("InvalidParameterValueException", 400),
    InvalidCheckpointTokenError: ("InvalidParameterValueException", 400),
    ResourceNotFoundError: ("ResourceNotFoundException", 404),
    CallbackClosedError: ("CallbackTimeoutException", 400),
    ExecutionAlreadyStartedError: ("DurableExecutionAlreadyStartedException", 409),
    RequestTooLargeError: ("RequestTooLargeException", 413),
    InvalidRequestContentError: ("InvalidRequestContentException", 400),
    SerializationError: ("SerializationException", 400),
}


def test_every_api_error_is_a_service_error_with_aws_code_and_status() -> None:
    declared = {
        cls
        for cls in vars(local_errors).values()
        if isinstance(cls, type) and issubclass(cls, LocalServiceError) and cls is not LocalServiceError
    }
    assert declared == set(API_ERRORS)
    for cls, (code, status) in API_ERRORS.items():
        error = cls() if cls is InvalidCheckpointTokenError else cls("message")
        assert isinstance(error, replayflow.ServiceError) and isinstance(error, replayflow.DurableExecutionError)
        assert (error.code, error.status) == (code, status)
    assert InvalidCheckpointTokenError("no such durable execution").retryable  # the SDKs retry a stale token
    assert InvalidCheckpointTokenError("x").message == "Invalid checkpoint token: x"
    assert not InvalidParameterValueError("bad").retryable


def test_the_other_errors_keep_their_builtin_bases() -> None:
    for cls in (ConfigurationError, HandlerSpecError):
        assert issubclass(cls, replayflow.ValidationError) and issubclass(cls, ValueError)
    for cls in (HandlerNotCallableError, NeedsVirtualClockError):
        assert issubclass(cls, replayflow.ValidationError) and issubclass(cls, TypeError)
    assert issubclass(StoreLockedError, StoreError) and issubclass(StoreError, replayflow.DurableExecutionError)
    assert issubclass(ProcessExit, BaseException) and not issubclass(ProcessExit, Exception)  # like SystemExit
    assert ProcessExit(3).status == 3


def test_settings_given_in_code_raise_validation_errors() -> None:
    svc = LocalDurableService()
    with pytest.raises(ConfigurationError, match="invalid function name"):
        svc.register("bad.name", approval)
    with pytest.raises(HandlerNotCallableError):
        svc.register("f", 42)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="execution_timeout"):
        svc.register("f", approval, execution_timeout=0)
    with pytest.raises(ConfigurationError, match="backwards"):
        VirtualClock().advance(-1)
    with pytest.raises(NeedsVirtualClockError):
        LocalDurableService(clock=RealClock()).advance(1)
    with pytest.raises(HandlerSpecError):
        import_handler("no_colon_here")
    with pytest.raises(HandlerNotCallableError):
        import_handler("json:__name__")
    with pytest.raises(ConfigurationError, match="loopback"):
        LocalHttpServer(svc, host="0.0.0.0")
    svc.close()


def test_api_calls_raise_typed_errors() -> None:
    svc = LocalDurableService(limits=Limits(async_invoke_payload_bytes=10))
    svc.register("approval", approval)
    with pytest.raises(ResourceNotFoundError):
        svc.execution("arn:nothing")
    with pytest.raises(ResourceNotFoundError):
        svc.start_execution("nobody", "{}")
    svc.start_execution("approval", "{}", name="once")
    with pytest.raises(ExecutionAlreadyStartedError):
        svc.start_execution("approval", '{"other": 1}', name="once")
    with pytest.raises(InvalidParameterValueError):
        svc.send_durable_execution_callback_success(CallbackId="not base64 !")
    with pytest.raises(CallbackClosedError):
        svc.send_durable_execution_callback_success(CallbackId="QUJD")
    with pytest.raises(RequestTooLargeError):
        svc.invoke(FunctionName="approval", Payload=b'{"too": "large"}', InvocationType="Event")
    with pytest.raises(InvalidRequestContentError):
        svc.invoke(FunctionName="approval", Payload=b"{not json", InvocationType="Event")
    with pytest.raises(InvalidCheckpointTokenError):
        svc.checkpoint_durable_execution({"DurableExecutionArn": "arn:x", "CheckpointToken": "t", "Updates": []})
    svc.close()


@pytest.fixture
def served() -> Iterator[tuple[LocalDurableService, LocalHttpServer]]:
    service = LocalDurableService(clock=RealClock(), limits=Limits(async_invoke_payload_bytes=10))
    service.register("approval", approval)
    with LocalHttpServer(service, console=False, invoke_workers=2) as server:
        yield service, server
    service.close()


def call(server: LocalHttpServer, method: str, path: str, body: bytes = b"", **headers: str) -> tuple[int, str, Any]:
    """``(status, x-amzn-ErrorType, JSON body)`` of one request."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("x-amzn-ErrorType") or "", json.loads(response.read() or b"null")
    finally:
        connection.close()


def test_the_http_face_answers_each_error_with_its_code_and_status(
    served: tuple[LocalDurableService, LocalHttpServer],
) -> None:
    service, server = served
    arn = quote(service.start_execution("approval", "{}"), safe="")
    cases: list[tuple[type[LocalServiceError], str, str, bytes, dict[str, str]]] = [
        (ResourceNotFoundError, "GET", "/2025-12-01/durable-executions/arn%3Anothing", b"", {}),
        (CallbackClosedError, "POST", "/2025-12-01/durable-execution-callbacks/QUJD/succeed", b"", {}),
        (InvalidParameterValueError, "POST", "/2025-12-01/durable-execution-callbacks/%21%21/succeed", b"", {}),
        (SerializationError, "POST", f"/2025-12-01/durable-executions/{arn}/checkpoint", b"not json", {}),
        (InvalidCheckpointTokenError, "POST", f"/2025-12-01/durable-executions/{arn}/checkpoint", b"{}", {}),
        (InvalidRequestContentError, "POST", "/2015-03-31/functions/approval/invocations", b"{bad", {}),
        (
            RequestTooLargeError,
            "POST",
            "/2015-03-31/functions/approval/invocations",
            b'{"too": "large"}',
            {"x-amz-invocation-type": "Event"},
        ),
        (ResourceNotFoundError, "POST", "/2015-03-31/functions/nobody/invocations", b"{}", {}),
    ]
    for cls, method, path, body, headers in cases:
        code, status = API_ERRORS[cls]
        got_status, got_code, answer = call(server, method, path, body, **headers)
        assert (got_status, got_code) == (status, code), (cls, path, answer)
        assert answer["Type"] == "User" and "Traceback" not in answer["message"]
