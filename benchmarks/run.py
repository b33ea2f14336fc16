"""One command for every figure: ``python -m benchmarks [--quick] [--sections ...]``.

Sections (all by default): ``replay`` (N completed steps, single-page and paged event, replayflow vs the
official SDK vs the floor, interleaved), ``first`` (N new steps checkpointed against the stub service at
0 ms and at 10 ms per call), ``memory`` (peak RSS growth, fresh process per row) and ``import`` (cold
import time, boto3 check). Progress goes to stderr; the markdown report goes to stdout and, with the raw
samples as JSON, to ``--out`` (default ``benchmarks/results/``).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import local_backend, sys_floor, sys_official, sys_pipelined, sys_replayflow
from .bench import Config, Result, interleave
from .breakdown import breakdown, breakdown_table
from .common import Sample
from .importtime import import_time, imports_boto3
from .memory import WARM_IDS, measure
from .report import first_run_table, import_table, memory_table, replay_table, targets
from .scale import run_scale, scale_table
from .workload import PAGE_SIZE, build_workload

__all__ = ["Plan", "main"]


@dataclass
class Plan:
    """Sizes and round counts of one benchmark run."""

    replay_ns: tuple[int, ...] = (100, 1_000, 3_000, 10_000, 100_000)
    replay_rounds: dict[int, int] = field(default_factory=lambda: {100: 21, 1_000: 11, 3_000: 9, 10_000: 7, 100_000: 5})
    first_ns: tuple[int, ...] = (1_000, 10_000, 100_000)
    first_rounds: dict[int, int] = field(default_factory=lambda: {1_000: 7, 10_000: 5, 100_000: 3})
    #: the official SDK's first run costs ~1.7 ms/step: fewer rounds at 10k, extrapolated above this N.
    official_first_rounds: dict[int, int] = field(default_factory=lambda: {10_000: 3})
    official_first_max: int = 10_000
    latency: float = 0.010
    latency_ns: tuple[int, ...] = (1_000,)
    latency_rounds: int = 5
    #: Pipelined checkpoints: (latency per call, N) rows against the local service, all three systems.
    pipelined_runs: tuple[tuple[float, int], ...] = ((0.0, 1_000), (0.010, 1_000), (0.040, 250))
    pipelined_rounds: int = 3
    #: N at which only replayflow runs with latency (the official SDK would take ~N x 11 ms).
    latency_replayflow_only_ns: tuple[int, ...] = ()
    memory_ns: tuple[int, ...] = (1_000, 10_000, 100_000)
    first_memory_ns: tuple[int, ...] = (10_000,)
    import_runs: int = 9
    breakdown_n: int = 10_000
    breakdown_rounds: int = 9
    scale_ns: tuple[int, ...] = (1_000, 4_000, 16_000)
    scale_rounds: int = 3


QUICK = Plan(
    replay_ns=(100, 1_000),
    replay_rounds={100: 3, 1_000: 3},
    first_ns=(100, 1_000),
    first_rounds={100: 3, 1_000: 3},
    official_first_rounds={},
    official_first_max=1_000,
    latency=0.002,
    latency_ns=(20,),
    latency_rounds=2,
    pipelined_runs=((0.0, 50), (0.002, 50)),
    pipelined_rounds=1,
    memory_ns=(1_000,),
    first_memory_ns=(),
    import_runs=3,
    breakdown_n=1_000,
    breakdown_rounds=3,
    scale_ns=(200, 800),
    scale_rounds=1,
)


#: Every size of the full run with fewer rounds (for a loaded machine: ~3x quicker, noisier medians).
SHORT = Plan(
    replay_rounds={100: 9, 1_000: 7, 3_000: 5, 10_000: 3, 100_000: 2},
    first_ns=(1_000, 10_000),
    first_rounds={1_000: 5, 10_000: 3},
    official_first_rounds={},
    official_first_max=1_000,
    latency_rounds=3,
    memory_ns=(1_000, 10_000),
    first_memory_ns=(),
    import_runs=7,
    breakdown_rounds=5,
    scale_rounds=1,
    pipelined_rounds=2,
)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_replay(plan: Plan, official: bool) -> list[Result]:
    """Interleaved replay rounds at each N: every system on the single-page and the paged event."""
    systems: list[Any] = [sys_replayflow, sys_floor] + ([sys_official] if official else [])
    warm = {m.NAME: functools.partial(m.make_replay, build_workload(10, paged=True, page_size=4)) for m in systems}
    results: list[Result] = []
    for n in plan.replay_ns:
        _log(f"replay N={n:,}")
        configs = []
        for paged in (False, True) if n + 1 > PAGE_SIZE else (False,):
            workload = build_workload(n, paged=paged)
            for m in systems:
                configs.append(Config(m.NAME, workload.label, n, functools.partial(m.make_replay, workload)))
        results += interleave(configs, plan.replay_rounds.get(n, 5), warmups=warm)
    order = {"replayflow": 0, "official": 1, "floor": 2}
    return sorted(results, key=lambda r: (r.n, r.variant, order[r.system]))


def _first_runs(plan: Plan, local: bool) -> list[tuple[str, float, int, bool]]:
    """(backend, latency, N, replayflow only) for every first-run row."""
    runs = [("stub", 0.0, n, False) for n in plan.first_ns]
    if local:
        runs += [("local", 0.0, n, False) for n in plan.first_ns]
    slow = "local" if local else "stub"
    runs += [(slow, plan.latency, n, False) for n in plan.latency_ns]
    runs += [(slow, plan.latency, n, True) for n in plan.latency_replayflow_only_ns]
    return runs


def _first_maker(module: Any, backend: str, n: int, latency: float) -> Callable[[], Callable[[], Sample]]:
    if backend == "local":
        return functools.partial(local_backend.make_first_run, module.NAME, n, latency)
    return functools.partial(module.make_first_run, n, latency)


def run_first(plan: Plan, official: bool) -> tuple[list[Result], list[dict[str, Any]]]:
    """First runs (stub and local service at 0 ms, with latency); unrun official sizes are extrapolated."""
    systems: list[Any] = [sys_replayflow] + ([sys_official] if official else [])
    local = local_backend.available()
    if not local:
        _log("replayflow.local is not available: first runs use the stub service only")
    warm = {m.NAME: functools.partial(m.make_first_run, 10, 0.0) for m in systems}
    results: list[Result] = []
    runs = _first_runs(plan, local)
    for backend, latency, n, only_ours in runs:
        variant = f"{backend}, {latency * 1e3:.0f} ms"
        rounds = plan.latency_rounds if latency else plan.first_rounds.get(n, 5)
        _log(f"first run N={n:,} {variant}")
        configs = []
        for m in systems:
            if m is sys_official and (only_ours or (latency == 0 and n > plan.official_first_max)):
                continue
            limit = plan.official_first_rounds.get(n) if m is sys_official and latency == 0 else None
            configs.append(Config(m.NAME, variant, n, _first_maker(m, backend, n, latency), limit))
        results += interleave(configs, rounds, warmups=warm)
    extrapolated: list[dict[str, Any]] = []
    if official:
        for backend, latency, n, _ in runs:
            variant = f"{backend}, {latency * 1e3:.0f} ms"
            if any(r.system == "official" and r.n == n and r.variant == variant for r in results):
                continue
            done = [r for r in results if r.system == "official" and r.variant == variant]
            if not done:
                continue
            base = max(done, key=lambda r: r.n)
            per_step = base.total / (base.n + 1)
            extrapolated.append(
                {
                    "system": "official",
                    "variant": variant,
                    "n": n,
                    "total_s": per_step * (n + 1),
                    "calls": round(base.checkpoint_calls / (base.n + 1) * (n + 1)),
                    "from_n": base.n,
                }
            )
    order = {"replayflow": 0, "official": 1}
    return sorted(results, key=lambda r: (r.variant, r.n, order[r.system])), extrapolated


def run_pipelined(plan: Plan, official: bool) -> list[Result]:
    """First runs against the local service with pipelined checkpoints, beside both unpipelined SDKs."""
    if not local_backend.available():
        return []
    systems: list[Any] = [sys_replayflow, sys_pipelined] + ([sys_official] if official else [])
    warm = {m.NAME: functools.partial(m.make_first_run, 10, 0.0) for m in systems}
    results: list[Result] = []
    for latency, n in plan.pipelined_runs:
        variant = f"local, {latency * 1e3:.0f} ms"
        _log(f"pipelined first run N={n:,} {variant}")
        configs = [Config(m.NAME, variant, n, _first_maker(m, "local", n, latency)) for m in systems]
        results += interleave(configs, plan.pipelined_rounds, warmups=warm)
    return results


def run_memory(plan: Plan, official: bool) -> list[dict[str, Any]]:
    """Peak RSS growth, one fresh process per (system, run kind, history form, N)."""
    systems = ["replayflow", "official", "floor"] if official else ["replayflow", "floor"]
    rows = []
    for n in plan.memory_ns:
        for paged in (False, True):
            for system in systems:
                _log(f"memory replay {system} N={n:,} paged={paged}")
                rows.append(measure(system, "replay", n, paged))
    for n in plan.first_memory_ns:
        for system in systems:
            if system != "floor":
                _log(f"memory first-run {system} N={n:,}")
                rows.append(measure(system, "first-run", n, False))
            if system == "replayflow":
                _log(f"memory first-run {system} N={n:,}, root ids already cached")
                rows.append(measure(system, WARM_IDS, n, False))
    return rows


def run_imports(plan: Plan, official: bool) -> list[dict[str, Any]]:
    """Cold import times in fresh interpreters."""
    modules = ["replayflow"] + (["aws_durable_execution_sdk_python"] if official else [])
    rows = []
    for module in modules:
        _log(f"import {module}")
        median, samples = import_time(module, plan.import_runs)
        rows.append({"module": module, "median_s": median, "samples": samples, "boto3": imports_boto3(module)})
    return rows


def machine() -> str:
    """One line about where this ran."""
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = []
    for dist in ("replayflow", "aws-durable-execution-sdk-python", "orjson"):
        try:
            from importlib.metadata import version

            versions.append(f"{dist} {version(dist)}")
        except Exception:
            versions.append(f"{dist} (not installed)")
    load = os.getloadavg()[0]
    return (
        f"{os.cpu_count()} CPU ({cpu}), Python {platform.python_version()}, {', '.join(versions)}; "
        f"load average at start {load:.2f}; {time.strftime('%Y-%m-%d %H:%M')}"
    )


#: Every section, in report order (a new section: add its name here and its part in :func:`main`).
SECTIONS = ("replay", "breakdown", "scale", "first", "pipelined", "memory", "import")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and few rounds (CI smoke, ~20 s)")
    parser.add_argument("--short", action="store_true", help="every replay size, fewer rounds and first-run sizes")
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help="comma-separated subset of " + ",".join(SECTIONS),
    )
    parser.add_argument(
        "--latency-10k",
        action="store_true",
        help="also run replayflow's first run at N=10,000 with latency (~100 s a round)",
    )
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"), help="where to write results")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else SHORT if args.short else Plan()
    if args.latency_10k:
        plan.latency_replayflow_only_ns = (10_000,)
    sections = set(args.sections.split(","))
    official = sys_official.available()
    if not official:
        _log("aws-durable-execution-sdk-python is not installed (pip install -e '.[bench]'): official columns skipped")
    started = time.perf_counter()
    header = machine()
    replay = run_replay(plan, official) if "replay" in sections else []
    per_op = breakdown(plan.breakdown_n, plan.breakdown_rounds) if "breakdown" in sections else []
    if "scale" in sections:
        _log("scale curves")
    scale = run_scale(plan.scale_ns, plan.scale_rounds, _log) if "scale" in sections else []
    first, extrapolated = run_first(plan, official) if "first" in sections else ([], [])
    pipelined = run_pipelined(plan, official) if "pipelined" in sections else []
    memory = run_memory(plan, official) if "memory" in sections else []
    imports = run_imports(plan, official) if "import" in sections else []
    elapsed = time.perf_counter() - started
    mode = " (--quick)" if args.quick else " (--short)" if args.short else ""
    parts = [f"Machine: {header}. Whole run: {elapsed:.0f} s{mode}."]
    if replay:
        parts += ["### Replay", replay_table(replay)]
    if per_op:
        parts += ["### Replay, per-op breakdown", breakdown_table(plan.breakdown_n, per_op)]
    if scale:
        parts += ["### Scale curves (local service, virtual clock)", scale_table(scale)]
    if first:
        parts += ["### First run", first_run_table(first, extrapolated)]
    if pipelined:
        parts += ["### First run, pipelined checkpoints (local service)", first_run_table(pipelined, [])]
    if memory:
        parts += ["### Memory (peak RSS growth, fresh process per row)", memory_table(memory)]
    if imports:
        parts += ["### Import time (fresh interpreter per sample)", import_table(imports)]
    parts += ["### Targets", targets(replay, first, memory, imports, pipelined)]
    report = "\n\n".join(parts) + "\n"
    print(report)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = "quick" if args.quick else "latest"
    (out / f"{name}.md").write_text(report)
    raw = {
        "machine": header,
        "elapsed_s": elapsed,
        "replay": [r.to_json() for r in replay],
        "breakdown": {"n": plan.breakdown_n, "us_per_op": {label: sec * 1e6 for label, sec in per_op}},
        "scale": [vars(row) for row in scale],
        "first_run": [r.to_json() for r in first],
        "first_run_extrapolated": extrapolated,
        "pipelined": [r.to_json() for r in pipelined],
        "memory": memory,
        "imports": imports,
    }
    (out / f"{name}.json").write_text(json.dumps(raw, indent=1))
    return 0
