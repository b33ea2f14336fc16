"""Nothing quadratic: the SDK's work per item is flat from 1k to 4k items (counted, never timed).

The workloads are the benchmark's four scale curves (``benchmarks/scale.py``), run on the local service: a
map and a parallel with half their items parked on a timer while the other half run steps (every step
completion used to scan every parked timer), nested child contexts, and a map whose every item waits.
Work is the number of lines the SDK's own modules run on the interpreter's thread
(``tests/workcount.py``), over the first run and the replay.
"""

from __future__ import annotations

import concurrent.futures
import gc
import queue
import threading
import types
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import replayflow
from benchmarks.scale import WORKLOADS, run_workload
from tests.workcount import count_lines

from .alarms import ManualAlarms


def _sdk_lines_per_item(workload: str, n: int) -> float:
    invocations = run_workload(workload, n, lambda: count_lines("/replayflow/_"))
    assert len(invocations) == 2  # the first run suspends on the timers; the replay finishes
    return sum(i.work for i in invocations) / n


@pytest.mark.slow
@pytest.mark.parametrize("workload", list(WORKLOADS))
def test_work_per_item_is_flat(workload: str) -> None:
    small, large = _sdk_lines_per_item(workload, 1_000), _sdk_lines_per_item(workload, 4_000)
    assert small > 100  # the counter sees the SDK's work
    assert large < small * 1.2, f"{small:.0f} lines per item at 1k items, {large:.0f} at 4k"


# -- work the line counter misses: signals made per branch, objects the garbage collector rescans ----------


class _InlinePool:
    """Stands for the step bodies' thread pool: each body runs as it is submitted, as if a worker finished it
    at once, so the run (and what is alive at each collection) does not depend on how threads are scheduled."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> None:
        fn(*args)

    def shutdown(self, wait: bool = True) -> None:
        pass


def _young_list_elements_per_item(workload: str, n: int) -> float:
    """Elements of the lists that young collections traverse, per item, with young collections all along.

    A list that lives on is traversed by at most two young collections (generation 0, then 1), so the
    lists a run keeps add a constant per item; a list of O(n) re-created again and again (the rest of the
    checkpoint queue, sliced off after each batch) adds O(n) per item. Low thresholds make both sizes run
    in the steady state (generation 1 collected too), so that only such re-creation can bend the count.
    The run has no thread of its own that allocates (bodies run inline, no START is flushed in the
    background), so the count is the same on an idle machine and a loaded one.
    """
    gc.collect()
    elements = [0]

    def on_collection(phase: str, info: dict[str, Any]) -> None:
        if phase == "start" and info["generation"] < 2:
            for generation in range(info["generation"] + 1):
                elements[0] += sum(len(o) for o in gc.get_objects(generation=generation) if type(o) is list)

    thresholds = gc.get_threshold()
    gc.set_threshold(100, 10, 10)
    gc.callbacks.insert(0, on_collection)
    try:
        with pytest.MonkeyPatch.context() as patched:
            patched.setattr(concurrent.futures, "ThreadPoolExecutor", _InlinePool)
            run_workload(workload, n, start_checkpoint_delay=3600.0)
    finally:
        gc.callbacks.remove(on_collection)
        gc.set_threshold(*thresholds)
    return elements[0] / n


@pytest.mark.parametrize("workload", ["map, half on timers", "parallel, half on timers"])
def test_young_collections_traverse_no_list_that_grows_with_the_items(workload: str) -> None:
    _young_list_elements_per_item(workload, 100)  # the first run in the process imports and warms up
    small, large = _young_list_elements_per_item(workload, 1_000), _young_list_elements_per_item(workload, 4_000)
    assert small > 1  # the collections ran and were counted
    # Flat: 12.6 per item at both sizes (map; parallel 11.3 and 10.5). Re-slicing the checkpoint queue's rest
    # after each batch made it 19.9 and 44.8 (2.3x).
    assert large < small * 1.15, f"{small:.1f} list elements traversed per item at 1k items, {large:.1f} at 4k"


def _events_made(workload: str, n: int, monkeypatch: pytest.MonkeyPatch) -> int:
    made = [0]

    class CountingEvent(threading.Event):
        def __init__(self) -> None:
            made[0] += 1
            super().__init__()

    with monkeypatch.context() as patched:
        patched.setattr(threading, "Event", CountingEvent)
        run_workload(workload, n)
    return made[0]


def test_a_batch_makes_no_cancellation_signal_per_branch(monkeypatch: pytest.MonkeyPatch) -> None:
    # a threading.Event is a Condition, a lock and two dicts: one per branch was most of a branch's objects
    small, large = (_events_made("many waits (map)", n, monkeypatch) for n in (250, 1_000))
    assert large <= small + 5, f"{small} threading.Events at 250 items, {large} at 1,000"


def _collect_now_and_then(n: int) -> Callable[[Any, Any], Iterator[Any]]:
    """A map whose branches run a full collection every 50 items (on the interpreter's thread, so that no
    collection overlaps another) while half the items sit on timers, each holding 1,000 small objects (what
    the items hold outweighs the test process's own heap)."""

    def body(ctx: Any, item: int, index: int, items: Any) -> Iterator[Any]:
        if item % 50 == 0:
            gc.collect()
        if item % 2:
            held = [[] for _ in range(1_000)]
            yield ctx.wait(seconds=5, name="nap")
            return item + len(held) - 1_000
        return (yield ctx.step(_same, item, name="same"))

    def wf(_: Any, ctx: Any) -> Iterator[Any]:
        return len((yield ctx.map(list(range(n)), body, name="items")).get_results())

    return wf


def _same(item: int) -> int:
    return item


def _scanned_by_full_collections_per_item(n: int) -> float:
    """Objects the full collections of the first run scanned, per item (what a collection traverses)."""
    from replayflow.local import Limits, LocalDurableService

    scanned, counting = [0], [False]

    def on_collection(phase: str, info: dict[str, Any]) -> None:
        if counting[0] and phase == "start" and info["generation"] == 2:
            scanned[0] += len(gc.get_objects())  # what the collection traverses (frozen objects are not)

    durable = replayflow.durable(_collect_now_and_then(n))
    invocations = [0]

    def handler(event: Any, context: Any) -> Any:
        invocations[0] += 1
        counting[0] = invocations[0] == 1
        try:
            return durable(event, context)
        finally:
            counting[0] = False

    service = LocalDurableService(limits=Limits(max_operations=10 * n + 100))
    service.register("collect", handler)
    gc.callbacks.insert(0, on_collection)
    try:
        result = service.run("collect")
    finally:
        gc.callbacks.remove(on_collection)
    assert result.succeeded and result.value == n and invocations[0] == 2
    return scanned[0] / n


@pytest.mark.slow
def test_a_full_collection_during_an_invocation_never_rescans_what_an_earlier_one_kept() -> None:
    # collections run every 50 items: if each rescanned everything alive (the frames parked on timers, the
    # records), the objects scanned per item would grow with the items; what survives one is frozen instead
    small, large = _scanned_by_full_collections_per_item(500), _scanned_by_full_collections_per_item(2_000)
    assert small > 1  # the collections ran and were counted
    assert large < small * 1.3, f"{small:.0f} objects scanned per item at 500 items, {large:.0f} at 2,000"
    assert gc.get_freeze_count() == 0 and gc.isenabled()  # the process's collector is as it was


@pytest.mark.parametrize("workload", ["map, half on timers", "parallel, half on timers"])
def test_no_start_delay_of_a_quick_body_expires_however_long_its_outcome_waits(workload: str) -> None:
    """A step body's START delay covers the body's own run. It used to run until the interpreter took the
    outcome, so on a busy interpreter every quick body's delay expired and sent its START in a background
    flush of its own: 7,115 checkpoint calls for the 16k-item map's first run, 4 now (and 500 expiries
    at 1k items here, where every outcome is taken late)."""
    alarms = ManualAlarms()  # every delay still armed has passed when the interpreter takes an outcome

    class Outcomes(queue.SimpleQueue):  # type: ignore[type-arg]
        def get(self, block: bool = True, timeout: float | None = None) -> Any:
            outcome = super().get(block, timeout)
            alarms.fire()  # the interpreter takes this outcome late
            return outcome

    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(concurrent.futures, "ThreadPoolExecutor", _InlinePool)
        patched.setattr("replayflow._checkpoint.ALARMS", alarms)
        patched.setattr("replayflow._interpreter.queue", types.SimpleNamespace(SimpleQueue=Outcomes, Empty=queue.Empty))
        run_workload(workload, 1_000)
    assert alarms.fired == 0, f"{alarms.fired} START delays of quick bodies expired"
