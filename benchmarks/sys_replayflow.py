"""replayflow under test: replay of N completed steps, and a first run of N new steps.

The workflow runs N named steps then one new step (``"new"``), setting ``probe.reach`` right before
yielding the new one. The clock starts before the invocation JSON is parsed.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Generator, Mapping
from time import perf_counter
from typing import Any

import orjson

import replayflow

from .common import FakeLambdaContext, Probe, Sample
from .service import StubService, expected_digest
from .workload import NEW_STEP_NAME, Workload, build_workload, step_id

__all__ = ["first_run", "make_replay", "replay_once"]

NAME = "replayflow"


def _workflow(n: int, probe: Probe) -> Callable[..., Generator[Any, Any, Any]]:
    def body(i: int) -> int:
        probe.calls += 1
        return i

    def new_body() -> str:
        probe.calls += 1
        return "done"

    def bench(event: Any, ctx: replayflow.DurableContext) -> Generator[Any, Any, Any]:
        last = None
        for i in range(n):
            last = yield ctx.step(body, i, name=f"s{i}")
        probe.reach = perf_counter()
        probe.last = last
        yield ctx.step(new_body, name=NEW_STEP_NAME)
        return last

    return bench


def make_replay(workload: Workload) -> Callable[[], Sample]:
    """A function that replays ``workload`` once (timed) and checks what happened."""
    n = workload.n
    probe = Probe()
    handler = replayflow.durable(_workflow(n, probe))
    lambda_context = FakeLambdaContext()
    new_id = step_id(n + 1)
    expected_pages = len(workload.pages)

    def run() -> Sample:
        probe.reset()
        service = StubService(workload.pages)
        with replayflow.use_transport(service):
            t0 = perf_counter()
            event = orjson.loads(workload.event_json)
            tp = perf_counter()
            out = handler(event, lambda_context)
            t1 = perf_counter()
        del event
        check_replay(out, probe, service, n, new_id, expected_pages)
        return Sample(
            probe.reach - t0, t1 - t0, service.checkpoint_calls, service.state_calls, service.update_count, tp - t0
        )

    return run


def check_replay(
    out: Mapping[str, object], probe: Probe, service: StubService, n: int, new_id: str, pages: int
) -> None:
    """The output, the last replayed value, no re-run body, exactly the new step's START and SUCCEED sent."""
    expected_last = n - 1 if n else None
    assert out.get("Status") == "SUCCEEDED", out
    assert out.get("Result") == orjson.dumps(expected_last).decode(), out
    assert probe.last == expected_last, (probe.last, expected_last)
    assert probe.calls == 1, f"{probe.calls} step bodies ran; only the new one may"
    assert service.update_count == 2, f"{service.update_count} updates sent; only the new step's START and SUCCEED"
    assert service.digest.hexdigest() == expected_digest([(new_id, "START"), (new_id, "SUCCEED")]), service.last_update
    assert service.state_calls == pages, (service.state_calls, pages)


def replay_once(workload: Workload) -> Sample:
    """One checked replay (for tests and profiling)."""
    return make_replay(workload)()


def make_first_run(n: int, latency: float, *, pipelined: bool = False) -> Callable[[], Sample]:
    """A function that runs N new steps + the final one from an empty history, checkpointing everything
    (``pipelined``: with ``@durable(pipelined=True)``)."""
    workload = build_workload(n, paged=False, with_history=False)
    probe = Probe()
    handler = replayflow.durable(pipelined=pipelined)(_workflow(n, probe))
    lambda_context = FakeLambdaContext()

    def run() -> Sample:
        probe.reset()
        service = StubService(latency=latency)
        with replayflow.use_transport(service):
            t0 = perf_counter()
            out = handler(orjson.loads(workload.event_json), lambda_context)
            t1 = perf_counter()
        check_first_run(out, probe, service, n)
        return Sample(t1 - t0, t1 - t0, service.checkpoint_calls, service.state_calls, service.update_count)

    return run


def check_first_run(out: Mapping[str, object], probe: Probe, service: StubService, n: int) -> None:
    """Every body ran once and every step's START and SUCCEED reached the service, in order."""
    expected_last = n - 1 if n else None
    assert out.get("Status") == "SUCCEEDED", out
    assert probe.calls == n + 1, probe.calls
    assert probe.last == expected_last
    assert service.update_count == 2 * (n + 1), service.update_count
    expected = ((step_id(k), action) for k in range(1, n + 2) for action in ("START", "SUCCEED"))
    assert service.digest.hexdigest() == expected_digest(expected), "updates differ from START/SUCCEED per step"
    last = service.last_update
    assert last is not None and last["Name"] == NEW_STEP_NAME and last["Payload"] == '"done"', last


def first_run(n: int, latency: float = 0.0) -> Sample:
    """One checked first run (for tests and profiling)."""
    gc.collect()
    return make_first_run(n, latency)()
