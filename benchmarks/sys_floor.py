"""The pure-Python floor: the least work any generator interpreter must do for the same replay (tight).

From the same invocation JSON: ``orjson.loads`` the event, read the remaining state pages from the same
stub service, index the operation dicts by Id (a dict comprehension), then, with the cyclic garbage
collector paused (as replayflow pauses it), drive a plain generator workflow: for each yielded step take
the id from a list computed once per process (as a warm process can cache root ids), look the record up,
check all four identity fields (Type, SubType, Name, ParentId), ``orjson.loads`` the payload and send it
back; stop at the first id without a record (the new step). No step bodies, no checkpoints.
"""

from __future__ import annotations

import gc
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


#: Root operation ids 1, 2, ... computed once per process (a warm Lambda process keeps them).
_IDS: list[str] = [""]


def _ids(n: int) -> list[str]:
    while len(_IDS) <= n:
        _IDS.append(blake2b(str(len(_IDS)).encode()).hexdigest()[:64])
    return _IDS


def _replay(event_json: bytes, service: StubService, probe: Probe, n: int) -> tuple[Step, float]:
    event = orjson.loads(event_json)
    parsed = perf_counter()
    gc.disable()
    try:
        return _replay_parsed(event, service, probe, n), parsed
    finally:
        gc.enable()


def _replay_parsed(event: Any, service: StubService, probe: Probe, n: int) -> Step:
    state = event["InitialExecutionState"]
    ops = state["Operations"]
    index: dict[str, Any] = {op["Id"]: op for op in ops}
    marker = state.get("NextMarker")
    while True:
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
        index.update({op["Id"]: op for op in page["Operations"]})
        marker = page.get("NextMarker")
    gen = _workflow(n, probe)
    get = index.get
    loads = orjson.loads
    ids = _ids(n + 1)
    counter = 0
    op = gen.send(None)
    while True:
        counter += 1
        rec = get(ids[counter])
        if rec is None:
            return op
        if (
            rec["Type"] != "STEP"
            or rec.get("SubType") != "Step"
            or rec.get("Name") != op.name
            or rec.get("ParentId") is not None
        ):
            raise AssertionError(f"non-deterministic: {rec} vs {op.name}")
        details = rec.get("StepDetails")
        result = details.get("Result") if details else None
        op = gen.send(loads(result) if result is not None else None)


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
