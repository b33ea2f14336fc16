"""The service's validation of a durable handler's output (``{"Status": ..., "Result": ..., "Error": ...}``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .limits import Limits
from .records import Execution

__all__ = ["check_output"]


def check_output(ex: Execution, output: Any, limits: Limits) -> tuple[str | None, str | None]:
    """``(status, problem)``: the output's status, or what is wrong with it (then the status is ``None``)."""
    if not isinstance(output, dict):
        return None, "Invalid durable execution output: expected an object with a Status."
    status = output.get("Status")
    rule = _RULES.get(status) if isinstance(status, str) else None
    if rule is None:
        return None, f"Invalid Status in durable execution output: {status!r}."
    result = output.get("Result")
    error = output.get("Error")
    if result is not None and not isinstance(result, str):
        return None, "Invalid Result in durable execution output: expected a string."
    if error is not None and not isinstance(error, dict):
        return None, "Invalid Error in durable execution output: expected an ErrorObject."
    problem = rule(ex, result, error is not None, limits)
    return (None, problem) if problem is not None else (status, None)


def _succeeded(ex: Execution, result: str | None, has_error: bool, limits: Limits) -> str | None:
    if has_error:
        return "Cannot provide an Error for SUCCEEDED status."
    if result is not None and ex.completion is None:
        limit = limits.chained_invoke_payload_bytes if ex.parent else limits.execution_payload_bytes
        if len(result) * 4 > limit and len(result.encode()) > limit:
            return f"The execution result exceeds the maximum size of {limit} bytes."
    return None


def _failed(ex: Execution, result: str | None, has_error: bool, limits: Limits) -> str | None:
    return "Cannot provide a Result for FAILED status." if result is not None else None


def _pending(ex: Execution, result: str | None, has_error: bool, limits: Limits) -> str | None:
    if result is not None or has_error:
        return "Cannot provide a Result or an Error for PENDING status."
    if ex.completion is None and not ex.pending and not ex.wake and not ex.progress:
        return "Cannot return PENDING status with no pending operations."
    return None


_RULES: dict[str, Callable[[Execution, str | None, bool, Limits], str | None]] = {
    "SUCCEEDED": _succeeded,
    "FAILED": _failed,
    "PENDING": _pending,
}
