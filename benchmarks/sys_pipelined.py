"""replayflow with pipelined checkpoints (``@durable(pipelined=True)``): first runs only.

The same workflow and checks as :mod:`benchmarks.sys_replayflow`; steps go on while the steps before them
are checkpointed in batches by the background sender.
"""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter

import orjson

import replayflow

from .common import FakeLambdaContext, Probe, Sample
from .service import StubService
from .sys_replayflow import _workflow, check_first_run
from .workload import build_workload

__all__ = ["NAME", "make_first_run"]

NAME = "replayflow, pipelined"


def make_first_run(n: int, latency: float) -> Callable[[], Sample]:
    """N new steps + the final one from an empty history against the stub, checkpoints pipelined."""
    workload = build_workload(n, paged=False, with_history=False)
    probe = Probe()
    handler = replayflow.durable(pipelined=True)(_workflow(n, probe))
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
