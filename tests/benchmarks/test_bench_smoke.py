"""Smoke test of the benchmark harnesses at tiny sizes: their own correctness checks, never timings."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, cast

import pytest

from benchmarks import local_backend, sys_floor, sys_official, sys_replayflow
from benchmarks.bench import Config, WorkerFailed, interleave
from benchmarks.importtime import import_time, imports_boto3
from benchmarks.memory import measure
from benchmarks.report import first_run_table, import_table, memory_table, replay_table, targets
from benchmarks.run import Plan, run_first, run_replay
from benchmarks.workload import build_workload, step_id

official = pytest.mark.skipif(not sys_official.available(), reason="the bench extra is not installed")
SYSTEMS = [
    sys_replayflow,
    sys_floor,
    pytest.param(sys_official, marks=official),
]
WRITERS = [sys_replayflow, pytest.param(sys_official, marks=official)]


def test_workload_ids_and_pages() -> None:
    single = build_workload(5, paged=False)
    paged = build_workload(5, paged=True, page_size=2)
    assert len(step_id(1)) == 64 and step_id(1) != step_id(2)
    assert len(paged.pages) == 2  # 6 operations: 2 in the event, then pages of 2 and 2
    assert not single.pages
    assert single.event_json != paged.event_json


@pytest.mark.parametrize("system", SYSTEMS)
@pytest.mark.parametrize("paged", [False, True])
def test_replay_harness_checks_pass(system: object, paged: bool) -> None:
    workload = build_workload(7, paged=paged, page_size=3)
    run = system.make_replay(workload)  # type: ignore[attr-defined]
    for _ in range(2):  # the same handler replays again
        sample = run()
        assert 0 < sample.reach <= sample.total
        assert sample.state_calls == len(workload.pages)
        if system is not sys_floor:
            assert (sample.checkpoint_calls, sample.updates) == (1, 2)


@pytest.mark.parametrize("system", SYSTEMS)
def test_replay_harness_catches_rerun_steps(system: object) -> None:
    """A history shorter than the workflow: steps 3 and 4 would run again; every harness must notice."""
    short = dataclasses.replace(build_workload(3, paged=False), n=5)
    with pytest.raises(AssertionError):
        system.make_replay(short)()  # type: ignore[attr-defined]


@pytest.mark.parametrize("system", WRITERS)
@pytest.mark.parametrize("latency", [0.0, 0.001])
def test_first_run_harness_checks_pass(system: object, latency: float) -> None:
    sample = system.make_first_run(6, latency)()  # type: ignore[attr-defined]
    assert sample.updates == 2 * 7
    assert 1 <= sample.checkpoint_calls <= 14


@pytest.mark.skipif(not local_backend.available(), reason="replayflow.local is not there yet")
@pytest.mark.parametrize("system", ["replayflow", pytest.param("official", marks=official)])
def test_first_run_against_the_local_service(system: str) -> None:
    sample = local_backend.make_first_run(system, 5, 0.0)()
    assert sample.checkpoint_calls >= 1


def test_interleave_and_tables() -> None:
    workload = build_workload(4, paged=False)
    systems = (sys_replayflow, sys_floor)
    configs = [Config(m.NAME, workload.label, 4, functools.partial(m.make_replay, workload)) for m in systems]
    warm = {sys_floor.NAME: functools.partial(sys_floor.make_replay, workload)}
    for isolate in (True, False):
        results = interleave(configs, 3, warmups=warm, verbose=False, isolate=isolate)
        assert [len(r.samples) for r in results] == [3, 3]
        assert "| replayflow | 1 page | 4 |" in replay_table(results)


def test_a_failing_worker_names_its_system() -> None:
    configs = [Config("floor", "1 page", 4, functools.partial(sys_floor.make_replay, build_workload(4, paged=True)))]
    configs[0].make = functools.partial(sys_floor.make_replay, cast(Any, None))  # fails in the worker
    with pytest.raises(WorkerFailed, match="in the floor worker process"):
        interleave(configs, 1, verbose=False)


@official
def test_run_sections_tiny() -> None:
    plan = Plan(
        replay_ns=(1_001,),
        replay_rounds={1_001: 1},
        first_ns=(3,),
        first_rounds={3: 1},
        official_first_max=3,
        latency=0.001,
        latency_ns=(2,),
        latency_rounds=1,
    )
    replay = run_replay(plan, True)
    assert {(r.system, r.variant) for r in replay} == {
        (s, v) for s in ("replayflow", "official", "floor") for v in ("1 page", "paged")
    }
    first, extrapolated = run_first(plan, True)
    slow = "local" if local_backend.available() else "stub"
    expected = {("replayflow", "stub, 0 ms", 3), ("official", "stub, 0 ms", 3), ("official", f"{slow}, 1 ms", 2)}
    assert {(r.system, r.variant, r.n) for r in first} >= expected
    assert not extrapolated
    text = first_run_table(first, extrapolated) + targets(replay, first, [], [])
    assert "first run stub, 0 ms, N=3" in text


def test_memory_and_import_probes() -> None:
    row = measure("replayflow", "replay", 50, True)
    assert row["peak_delta_kb"] >= 0 and row["n"] == 50
    assert "replayflow" in memory_table([row])
    median, samples = import_time("replayflow", runs=1)
    assert median > 0 and len(samples) == 1
    assert imports_boto3("replayflow") is False
    assert "`replayflow`" in import_table(
        [{"module": "replayflow", "median_s": median, "samples": samples, "boto3": False}]
    )


def test_a_first_run_extends_the_root_id_cache_and_the_warm_ids_row_compares_with_the_official_first_run() -> None:
    from benchmarks import sys_replayflow
    from benchmarks.memory import WARM_IDS
    from replayflow._ids import ROOT_IDS

    n = len(ROOT_IDS) + 20  # root steps this process has not seen yet
    sys_replayflow.make_first_run(n, 0.0)()
    assert len(ROOT_IDS) >= n + 2  # the N new steps and the final one: what the warm-ids memory row pre-fills
    rows = [
        {"system": "official", "kind": "first-run", "paged": False, "n": 10_000, "peak_delta_kb": 400},
        {"system": "replayflow", "kind": "first-run", "paged": False, "n": 10_000, "peak_delta_kb": 1_400},
        {"system": "replayflow", "kind": WARM_IDS, "paged": False, "n": 10_000, "peak_delta_kb": 100},
    ]
    assert f"| replayflow | {WARM_IDS} | 1 page | 10,000 | 0.1 MB | 10 | 0.25 |" in memory_table(rows)
    lines = targets([], [], rows, []).splitlines()
    assert any(line.startswith("- memory first-run 1 page") and WARM_IDS in line for line in lines), lines
    assert any(line.startswith(f"- memory {WARM_IDS} 1 page") and "PASS" in line for line in lines), lines


def test_breakdown_and_scale_sections_run_at_tiny_sizes() -> None:
    from benchmarks.breakdown import breakdown, breakdown_table
    from benchmarks.scale import WORKLOADS, run_scale, scale_table

    rows = breakdown(50, 1)
    assert len(rows) == 10 and all(seconds > 0 for _, seconds in rows)
    assert "us/op" in breakdown_table(50, rows)
    scale = run_scale((20,), 1)
    assert [row.workload for row in scale] == list(WORKLOADS)
    assert all(row.invocations == 2 for row in scale)  # the first run suspends on timers; the replay ends it
    assert "us/item" in scale_table(scale)
