"""First runs against the embedded local durable service (``replayflow.local``), for both SDKs.

replayflow's handler is registered as is (the service's in-process invoker installs its transport). The
official SDK's handler gets :class:`OfficialInvoker`, which turns the service's invocation event into
``DurableExecutionInvocationInputWithClient`` with an :class:`~benchmarks.service.OfficialClient` over the
service's transport: the same injection path as the stub runs. The clock covers ``service.run`` (start
the execution, invoke, every checkpoint, the end); the history is checked afterwards.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from time import perf_counter
from typing import Any

from .common import Probe, Sample
from .service import OfficialClient
from .workload import NEW_STEP_NAME

__all__ = ["OfficialInvoker", "available", "make_first_run"]


def available() -> bool:
    """Whether ``replayflow.local`` can be imported (it is built alongside these benchmarks)."""
    try:
        from replayflow.local import LocalDurableService  # noqa: F401
    except ImportError:
        return False
    return True


class OfficialInvoker:
    """A ``replayflow.local`` invoker for an official-SDK handler (see the module docstring)."""

    def invoke(self, function: Any, event: Any, context: Any, transport: Any) -> Any:
        from aws_durable_execution_sdk_python.execution import (
            DurableExecutionInvocationInput,
            DurableExecutionInvocationInputWithClient,
        )

        from replayflow.local import InvocationOutcome
        from replayflow.local.invokers import handler_error, marshal

        invocation = DurableExecutionInvocationInput.from_json_dict(event)
        wrapped = DurableExecutionInvocationInputWithClient.from_durable_execution_invocation_input(
            invocation, OfficialClient(transport)
        )
        try:
            output = function.resolve()(wrapped, context)
        except Exception as exc:
            return InvocationOutcome(error=handler_error(exc))
        return InvocationOutcome(output=marshal(output))

    def close(self) -> None:
        return None


def make_first_run(system: str, n: int, latency: float) -> Callable[[], Sample]:
    """N new steps + the final one against a fresh local service with ``latency`` s per API call."""
    from replayflow.local import Limits, LocalDurableService

    probe = Probe()
    if system.startswith("replayflow"):
        import replayflow

        from .sys_replayflow import _workflow

        handler: Any = replayflow.durable(pipelined=system.endswith("pipelined"))(_workflow(n, probe))
        invoker = None
    else:
        from .sys_official import _handler

        handler = _handler(n, probe)
        invoker = OfficialInvoker()

    def run() -> Sample:
        probe.reset()
        # N steps are over AWS's 3,000 operations per execution at the larger sizes: lift the quota
        service = LocalDurableService(latency=latency, limits=Limits(max_operations=n + 10))
        try:
            service.register("bench", handler, invoker=invoker)
            gc.collect()
            t0 = perf_counter()
            result = service.run("bench", {})
            t1 = perf_counter()
            check(service, result, probe, n)
            calls = service.calls
            return Sample(
                t1 - t0, t1 - t0, calls["CheckpointDurableExecution"], calls["GetDurableExecutionState"], 2 * (n + 1)
            )
        finally:
            service.close()

    return run


def check(service: Any, result: Any, probe: Probe, n: int) -> None:
    """The execution succeeded with the last value, every body ran once, the history has every step."""
    assert result.status == "SUCCEEDED", (result.status, result.error)
    assert result.value == (n - 1 if n else None), result.value
    assert probe.calls == n + 1, probe.calls
    succeeded: list[str] = []
    marker = None
    while True:
        page = service.get_durable_execution_history(DurableExecutionArn=result.arn, Marker=marker, MaxItems=1000)
        succeeded += [e.get("Name") for e in page["Events"] if e.get("EventType") == "StepSucceeded"]
        marker = page.get("NextMarker")
        if not marker:
            break
    assert succeeded == [f"s{i}" for i in range(n)] + [NEW_STEP_NAME], f"{len(succeeded)} steps succeeded"
