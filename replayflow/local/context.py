"""The Lambda context object handed to handlers the local service invokes."""

from __future__ import annotations

import time
from typing import Any

__all__ = ["LambdaContext"]


class LambdaContext:
    """The attributes of AWS Lambda's Python context object that handlers use.

    ``get_remaining_time_in_millis()`` counts down, in real time, from the function timeout given when
    the function was registered.
    """

    def __init__(
        self,
        *,
        aws_request_id: str,
        function_name: str,
        invoked_function_arn: str,
        timeout: float,
        function_version: str = "$LATEST",
        memory_limit_in_mb: int = 128,
        tenant_id: str | None = None,
        deadline: float | None = None,
    ) -> None:
        self.aws_request_id = aws_request_id
        self.function_name = function_name
        self.function_version = function_version
        self.invoked_function_arn = invoked_function_arn
        self.memory_limit_in_mb = memory_limit_in_mb
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"local/[{function_version}]{aws_request_id.replace('-', '')}"
        self.tenant_id = tenant_id
        self.timeout = timeout
        self._deadline = deadline if deadline is not None else time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(int((self._deadline - time.monotonic()) * 1000), 0)

    def to_dict(self) -> dict[str, Any]:
        """The fields, to rebuild the context in another process (:meth:`from_dict`)."""
        return {
            "aws_request_id": self.aws_request_id,
            "function_name": self.function_name,
            "function_version": self.function_version,
            "invoked_function_arn": self.invoked_function_arn,
            "memory_limit_in_mb": self.memory_limit_in_mb,
            "tenant_id": self.tenant_id,
            "timeout": self.timeout,
            "remaining_ms": self.get_remaining_time_in_millis(),
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> LambdaContext:
        return cls(
            aws_request_id=values["aws_request_id"],
            function_name=values["function_name"],
            invoked_function_arn=values["invoked_function_arn"],
            timeout=values["timeout"],
            function_version=values["function_version"],
            memory_limit_in_mb=values["memory_limit_in_mb"],
            tenant_id=values["tenant_id"],
            deadline=time.monotonic() + values["remaining_ms"] / 1000.0,
        )

    def __repr__(self) -> str:
        return f"LambdaContext(aws_request_id={self.aws_request_id!r}, function_name={self.function_name!r})"
