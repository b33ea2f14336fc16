"""Types shared by the harnesses: one run's :class:`Sample`, the fake Lambda context, the body probe."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FakeLambdaContext", "Probe", "Sample"]


@dataclass
class Sample:
    """One timed run.

    ``reach`` is the wall time from the invocation JSON to the workflow reaching its first new operation
    (replay), ``total`` the whole invocation; for a first run both are the whole invocation.
    """

    reach: float
    total: float
    checkpoint_calls: int = 0
    state_calls: int = 0
    updates: int = 0
    #: the part of ``reach`` spent parsing the invocation JSON (what the Lambda runtime does before any handler)
    parse: float = 0.0


class Probe:
    """Counts step-body executions and holds the perf_counter mark the workflow sets before its new step."""

    __slots__ = ("calls", "last", "reach")

    def __init__(self) -> None:
        self.calls = 0
        self.reach = 0.0
        self.last: object = None

    def reset(self) -> None:
        self.calls = 0
        self.reach = 0.0
        self.last = None


class FakeLambdaContext:
    """The attributes of a Lambda context object the SDKs read (15 minutes left, like a fresh invocation)."""

    aws_request_id = "bench-request-0000"
    function_name = "bench"
    function_version = "1"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench:1"
    memory_limit_in_mb = 1024
    log_group_name = "/aws/lambda/bench"
    log_stream_name = "bench"
    tenant_id = None

    def get_remaining_time_in_millis(self) -> int:
        return 900_000
