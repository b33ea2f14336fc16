"""The pure-Python floor: the least work any generator interpreter must do for the same replay.

From the same invocation JSON: ``orjson.loads`` the event, read the remaining state pages from the same
stub service, build an id -> (type, name, payload) dict, then drive a plain generator workflow: for each
yielded step derive the blake2b id, look the record up, check type and name, ``orjson.loads`` the payload
and send it back; stop at the first id without a record (the new step). No step bodies, no checkpoints.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from hashlib import blake2b
from time import perf_counter
from typing import Any

import orjson

from .common import Probe, Sample
from .service import StubService
from .workload import NEW_STEP_NAME, Workload

__all__ = ["make_replay"]

NAME = "floor"


class Step:
    """A minimal operation descriptor."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


def _workflow(n: int, probe: Probe) -> Generator[Step, Any, Any]:
    last = None
    for i in range(n):
        last = yield Step(f"s{i}")
    probe.reach = perf_counter()
    probe.last = last
    yield Step(NEW_STEP_NAME)
    return last


def _replay(event_json: bytes, service: StubService, probe: Probe, n: int) -> tuple[Step, float]:
    event = orjson.loads(event_json)
    parsed = perf_counter()
    state = event["InitialExecutionState"]
    index: dict[str, tuple[str, str | None, str | None]] = {}
    ops = state["Operations"]
    marker = state.get("NextMarker")
    while True:
        for op in ops:
            details = op.get("StepDetails")
            index[op["Id"]] = (op["Type"], op.get("Name"), details.get("Result") if details else None)
        if not marker:
            break
        page = service.get_durable_execution_state(
            {
                "DurableExecutionArn": event["DurableExecutionArn"],
                "CheckpointToken": event["CheckpointToken"],
                "Marker": marker,
                "MaxItems": 1000,
            }
        )
        ops = page["Operations"]
        marker = page.get("NextMarker")
    gen = _workflow(n, probe)
    get = index.get
    loads = orjson.loads
    counter = 0
    op = gen.send(None)
    while True:
        counter += 1
        rec = get(blake2b(str(counter).encode()).hexdigest()[:64])
        if rec is None:
            return op, parsed
        if rec[0] != "STEP" or rec[1] != op.name:
            raise AssertionError(f"non-deterministic: {rec} vs {op.name}")
        op = gen.send(loads(rec[2]) if rec[2] is not None else None)


def make_replay(workload: Workload) -> Callable[[], Sample]:
    """A function that replays ``workload`` once (timed) and checks it stopped on the new step."""
    n = workload.n
    probe = Probe()

    def run() -> Sample:
        probe.reset()
        service = StubService(workload.pages)
        t0 = perf_counter()
        stopped, parsed = _replay(workload.event_json, service, probe, n)
        t1 = perf_counter()
        assert stopped.name == NEW_STEP_NAME, stopped.name
        assert probe.last == (n - 1 if n else None), probe.last
        assert service.state_calls == len(workload.pages)
        return Sample(probe.reach - t0, t1 - t0, 0, service.state_calls, 0, parsed - t0)

    return run
