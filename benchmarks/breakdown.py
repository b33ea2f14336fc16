"""Per-op breakdown of a replay at N steps: each part of the hot path timed alone, in us per operation.

Every part runs the real code on the benchmark's own workload (``workload.py``): the event parse, the
event index, id derivation (hashed, and from the per-process cache), the ``ctx.step`` descriptor,
``Interpreter.claim`` (id allocation plus the four-field identity check), ``Step.run`` on a SUCCEEDED
record (claim + decode), and the payload decode alone. The last rows are the whole replay from handler
entry for replayflow and the tight floor, so that the parts can be read against the total. A regression
shows up in the row of the part that grew.
"""

from __future__ import annotations

import gc
import statistics
from collections.abc import Callable, Generator
from hashlib import blake2b
from time import perf_counter
from typing import Any

import orjson

from .workload import build_workload

__all__ = ["breakdown", "breakdown_table"]


def _no_operations() -> Generator[Any, Any, None]:
    """A frame's generator that yields nothing (the breakdown drives ``claim`` by hand)."""
    yield from ()


def _time(fn: Callable[[], Any], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        gc.collect()
        gc.disable()
        try:
            t0 = perf_counter()
            fn()
            samples.append(perf_counter() - t0)
        finally:
            gc.enable()
    return statistics.median(samples)


def _parts(n: int) -> list[tuple[str, Callable[[], Any]]]:
    import replayflow
    from replayflow._checkpoint import Checkpointer
    from replayflow._context import DurableContext
    from replayflow._handler import index_operations
    from replayflow._ids import root_id
    from replayflow._interpreter import Frame, Scope
    from replayflow._unyielded import unyielded_mode
    from replayflow.testing._dry_run import RecordingTransport

    workload = build_workload(n, paged=False)
    event = orjson.loads(workload.event_json)
    operations = event["InitialExecutionState"]["Operations"]
    records = index_operations(operations)
    names = [f"s{i}" for i in range(n)]
    payloads = [str(i) for i in range(n)]
    handler = replayflow.durable(lambda _, ctx: None)
    arn = event["DurableExecutionArn"]

    def interpreter() -> Any:
        with unyielded_mode("warn"):  # production's mode, also under pytest (the toolkit's costs a frame lookup)
            it = handler.interpreter(records, arn, Checkpointer(RecordingTransport(), arn, "t", records))
        scope = Scope(records, None, None, "the workflow")
        return it, Frame(_no_operations(), scope, lambda *_: None, it.shutdown), DurableContext(it, scope)

    def body(i: int) -> int:
        return i

    built_by, _, ctx = interpreter()
    steps = [ctx.step(body, i, name=names[i]) for i in range(n)]

    def claim() -> None:
        it, frame, _ = interpreter()
        for name in names:
            it.claim(frame, "STEP", "Step", name)

    def run_steps() -> None:
        it, frame, _ = interpreter()
        for op in steps:
            op.run(it, frame)

    def descriptors() -> None:
        step = ctx.step
        for i, name in enumerate(names):
            step(body, i, name=name)
            built_by.unyielded = None  # what the interpreter does when the descriptor is yielded

    return [
        (
            "event parse (orjson.loads of the invocation JSON; the Lambda runtime's work)",
            lambda: orjson.loads(workload.event_json),
        ),
        ("event index (index_operations)", lambda: index_operations(operations)),
        (
            "id derivation, hashed (blake2b per op)",
            lambda: [blake2b(str(k).encode()).hexdigest()[:64] for k in range(1, n + 1)],
        ),
        ("id derivation, cached (root_id)", lambda: [root_id(k) for k in range(1, n + 1)]),
        ("`ctx.step` descriptor", descriptors),
        ("`Interpreter.claim` (next id + four-field identity check)", claim),
        ("`Step.run` on SUCCEEDED (claim + decode)", run_steps),
        ("payload decode alone (orjson.loads)", lambda: [orjson.loads(p) for p in payloads]),
    ]


def breakdown(n: int, rounds: int) -> list[tuple[str, float]]:
    """``(part, seconds per op)`` for each part, and the whole replay from handler entry for both systems."""
    from . import sys_floor, sys_replayflow

    rows = [(label, _time(fn, rounds) / n) for label, fn in _parts(n)]
    workload = build_workload(n, paged=False)
    for label, module in (
        ("whole replay from handler entry: replayflow", sys_replayflow),
        ("whole replay from handler entry: tight floor", sys_floor),
    ):
        run = module.make_replay(workload)
        run()
        samples = []
        for _ in range(rounds):
            gc.collect()
            sample = run()
            samples.append(sample.reach - sample.parse)
        rows.append((label, statistics.median(samples) / n))
    return rows


def breakdown_table(n: int, rows: list[tuple[str, float]]) -> str:
    """Markdown: one row per part, us per op."""
    lines = [f"| part (N = {n:,}, single page) | us/op |", "|---|---:|"]
    lines += [f"| {label} | {seconds * 1e6:.3f} |" for label, seconds in rows]
    return "\n".join(lines)
