"""Request parsing and response shapes shared by the service's API methods."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import orjson

from . import naming
from .errors import InvalidParameterValueError
from .limits import Limits

__all__ = ["check_error_object", "invoke_response", "operation_bytes", "page_size", "parse_marker"]


def invoke_response(output: Any, error: dict[str, Any] | None, arn: str | None) -> dict[str, Any]:
    """A boto3-shaped ``Invoke`` response: the output as JSON, or Lambda's ``Unhandled`` function error."""
    response: dict[str, Any] = {"StatusCode": 200, "ExecutedVersion": naming.LATEST}
    if arn is not None:
        response["DurableExecutionArn"] = arn
    if error is not None:
        response["FunctionError"] = "Unhandled"
        body = {"errorType": error.get("ErrorType"), "errorMessage": error.get("ErrorMessage")}
        response["Payload"] = json.dumps(body).encode()
    else:
        response["Payload"] = json.dumps(output).encode()
    return response


def parse_marker(marker: Any) -> int:
    """The position a ``Marker`` stands for (markers are positions; ``None``/``""`` = the start)."""
    if marker is None or marker == "":
        return 0
    if not isinstance(marker, str) or not marker.isdigit():
        raise InvalidParameterValueError(f"Invalid Marker {marker!r}.")
    return int(marker)


def page_size(max_items: Any, cap: int) -> int:
    """``MaxItems`` validated (0 or absent = the default 100), capped at ``cap``."""
    if max_items is None or max_items == 0:
        return min(100, cap)
    if type(max_items) is not int or not 0 < max_items <= 1000:
        raise InvalidParameterValueError("MaxItems must be between 0 and 1000.")
    return min(max_items, cap)


_DETAILS = ("StepDetails", "ContextDetails", "CallbackDetails", "ChainedInvokeDetails", "ExecutionDetails")
_PAYLOADS = ("Result", "InputPayload")


def operation_bytes(op: Mapping[str, Any]) -> int:
    """What an operation weighs for paging: its payloads' and errors' UTF-8 bytes (at least 1).

    The service bounds pages by these bytes; names, ids and timestamps are small and bounded.
    """
    size = 1
    for key in _DETAILS:
        details = op.get(key)
        if not details:
            continue
        for field in _PAYLOADS:
            text = details.get(field)
            if text:
                size += len(text) if text.isascii() else len(text.encode())
        if error := details.get("Error"):
            size += len(orjson.dumps(error))
    return size


def check_error_object(error: Any, limits: Limits) -> dict[str, Any] | None:
    """An ErrorObject given to an API (only its four fields kept), within the size limit."""
    if error is None:
        return None
    if not isinstance(error, dict):
        raise InvalidParameterValueError("Error must be an ErrorObject.")
    cleaned = {k: v for k, v in error.items() if k in ("ErrorType", "ErrorMessage", "ErrorData", "StackTrace")}
    if len(orjson.dumps(cleaned)) >= limits.error_bytes:
        raise InvalidParameterValueError(f"Error object size must be less than {limits.error_bytes} bytes.")
    return cleaned
