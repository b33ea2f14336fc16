"""The official ``aws-durable-execution-sdk-python`` under test, on the identical workload.

Written from its public API: a ``@durable_execution`` handler running N named steps then one new step
(``"new"``), with a ``perf_counter`` mark right before the new step. The event JSON is parsed and turned
into ``DurableExecutionInvocationInput`` exactly as the SDK's wrapper does for a dict event, then wrapped in
``DurableExecutionInvocationInputWithClient`` to inject the stub service client (the SDK's documented
test-injection path). The clock starts before the JSON is parsed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from time import perf_counter
from typing import Any

import orjson

from .common import FakeLambdaContext, Probe, Sample
from .service import OfficialClient, StubService
from .workload import NEW_STEP_NAME, Workload, build_workload, step_id

__all__ = ["available", "make_first_run", "make_replay"]

NAME = "official"


def available() -> bool:
    """Whether the official SDK is installed (the ``bench`` extra)."""
    try:
        import aws_durable_execution_sdk_python  # noqa: F401
    except ImportError:
        return False
    return True


def _handler(n: int, probe: Probe) -> Callable[..., Any]:
    from aws_durable_execution_sdk_python import DurableContext, durable_execution

    def body(i: int, _step_context: Any) -> int:
        probe.calls += 1
        return i

    def new_body(_step_context: Any) -> str:
        probe.calls += 1
        return "done"

    @durable_execution
    def bench(event: Any, context: DurableContext) -> Any:
        last = None
        for i in range(n):
            last = context.step(functools.partial(body, i), name=f"s{i}")
        probe.reach = perf_counter()
        probe.last = last
        context.step(new_body, name=NEW_STEP_NAME)
        return last

    return bench


def _invoker(workload: Workload, probe: Probe, service_factory: Callable[[], StubService]) -> Callable[[], Any]:
    from aws_durable_execution_sdk_python.execution import (
        DurableExecutionInvocationInput,
        DurableExecutionInvocationInputWithClient,
    )

    handler = _handler(workload.n, probe)
    lambda_context = FakeLambdaContext()
    wrap = DurableExecutionInvocationInputWithClient.from_durable_execution_invocation_input
    event_json = workload.event_json

    def run() -> tuple[float, float, float, dict[str, Any], StubService]:
        service = service_factory()
        client = OfficialClient(service)
        t0 = perf_counter()
        event = orjson.loads(event_json)
        tp = perf_counter()
        invocation = DurableExecutionInvocationInput.from_json_dict(event)  # what its wrapper does with a dict
        out = handler(wrap(invocation, client), lambda_context)  # the runtime holds `event` meanwhile, as here
        t1 = perf_counter()
        del event
        return t0, tp, t1, out, service

    return run


def make_replay(workload: Workload) -> Callable[[], Sample]:
    """A function that replays ``workload`` once (timed) and checks what happened."""
    from .sys_replayflow import check_replay

    n = workload.n
    probe = Probe()
    invoke = _invoker(workload, probe, lambda: StubService(workload.pages))
    new_id = step_id(n + 1)
    pages = len(workload.pages)

    def run() -> Sample:
        probe.reset()
        t0, tp, t1, out, service = invoke()
        check_replay(out, probe, service, n, new_id, pages)
        return Sample(
            probe.reach - t0, t1 - t0, service.checkpoint_calls, service.state_calls, service.update_count, tp - t0
        )

    return run


def make_first_run(n: int, latency: float) -> Callable[[], Sample]:
    """A function that runs N new steps + the final one from an empty history, checkpointing everything."""
    from .sys_replayflow import check_first_run

    workload = build_workload(n, paged=False, with_history=False)
    probe = Probe()
    invoke = _invoker(workload, probe, lambda: StubService(latency=latency))

    def run() -> Sample:
        probe.reset()
        t0, _, t1, out, service = invoke()
        check_first_run(out, probe, service, n)
        return Sample(t1 - t0, t1 - t0, service.checkpoint_calls, service.state_calls, service.update_count)

    return run
