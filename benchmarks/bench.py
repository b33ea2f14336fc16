"""Interleaved timing: every config of one N, round-robin, order rotated each round, each system in its own process."""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import statistics
import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .common import Sample

__all__ = ["Config", "Result", "WorkerFailed", "interleave"]


@dataclass
class Config:
    """One thing to time: ``system`` on ``variant`` (e.g. "1 page", "paged", "10 ms latency")."""

    system: str
    variant: str
    n: int
    make: Callable[[], Callable[[], Sample]]
    rounds: int | None = None  # fewer rounds than the others (slow configs); None = all


@dataclass
class Result:
    """The samples of one config and their medians."""

    system: str
    variant: str
    n: int
    samples: list[Sample] = field(default_factory=list)

    @property
    def reach(self) -> float:
        return statistics.median(s.reach for s in self.samples)

    @property
    def total(self) -> float:
        return statistics.median(s.total for s in self.samples)

    @property
    def handler(self) -> float:
        """Median of reach minus the event parse: the time from the handler's entry to the first new op."""
        return statistics.median(s.reach - s.parse for s in self.samples)

    @property
    def checkpoint_calls(self) -> int:
        return int(statistics.median(s.checkpoint_calls for s in self.samples))

    @property
    def state_calls(self) -> int:
        return int(statistics.median(s.state_calls for s in self.samples))

    def to_json(self) -> dict[str, object]:
        return {
            "system": self.system,
            "variant": self.variant,
            "n": self.n,
            "rounds": len(self.samples),
            "reach_median_s": self.reach,
            "total_median_s": self.total,
            "handler_median_s": self.handler,
            "reach_s": [s.reach for s in self.samples],
            "total_s": [s.total for s in self.samples],
            "parse_s": [s.parse for s in self.samples],
            "checkpoint_calls": self.checkpoint_calls,
            "state_calls": self.state_calls,
        }


def interleave(
    configs: list[Config],
    rounds: int,
    *,
    warmups: Mapping[str, Callable[[], Callable[[], Sample]]] | None = None,
    verbose: bool = True,
    isolate: bool = True,
) -> list[Result]:
    """Run ``rounds`` rounds of every config; config k of round r runs at position (k + r) mod len.

    ``isolate`` (the default): each system runs in a worker process of its own (spawned, kept warm for
    the whole call, as a warm Lambda process runs one SDK), so no system runs on the caches, heap and
    allocator state another left behind; the rounds are still interleaved, one run at a time, so all
    share the machine's drift. Configs' ``make`` and the ``warmups`` (system -> make, run once untimed)
    must then be picklable (module-level functions, ``functools.partial``).
    """
    warmups = dict(warmups or {})
    results = [Result(c.system, c.variant, c.n) for c in configs]
    with _Runners(configs, warmups, isolate) as run:
        count = len(configs)
        for r in range(rounds):
            for k in range(count):
                j = (k + r) % count
                config = configs[j]
                if config.rounds is not None and r >= config.rounds:
                    continue
                sample = run(j)
                results[j].samples.append(sample)
                if verbose:
                    print(
                        f"  round {r + 1}/{rounds} {config.system:<10} {config.variant:<14} N={config.n:<7,} "
                        f"reach {sample.reach * 1e3:9.1f} ms  total {sample.total * 1e3:9.1f} ms",
                        file=sys.stderr,
                        flush=True,
                    )
    return results


class _Runners:
    """``run(j)``: one timed run of config j (after ``gc.collect()``), in its system's worker or here."""

    def __init__(
        self, configs: list[Config], warmups: dict[str, Callable[[], Callable[[], Sample]]], isolate: bool
    ) -> None:
        self.configs, self.warmups, self.isolate = configs, warmups, isolate
        self.local: list[Callable[[], Sample]] = []
        self.workers: dict[str, tuple[Any, Any]] = {}

    def __enter__(self) -> Callable[[int], Sample]:
        if not self.isolate:
            for make in self.warmups.values():
                make()()
            self.local = [c.make() for c in self.configs]
            return self._run_local
        context = multiprocessing.get_context("spawn")
        for system in dict.fromkeys(c.system for c in self.configs):
            parent, child = context.Pipe()
            process = context.Process(target=_worker, args=(child,), name=f"bench-{system}", daemon=True)
            process.start()
            child.close()
            self.workers[system] = (process, parent)
            if system in self.warmups:
                parent.send(("warm", self.warmups[system]))
        for system, (_, conn) in self.workers.items():
            if system in self.warmups:
                _reply(conn, system)
        for j, config in enumerate(self.configs):
            self.workers[config.system][1].send(("make", j, config.make))
        for config in self.configs:
            _reply(self.workers[config.system][1], config.system)
        return self._run_isolated

    def _run_local(self, j: int) -> Sample:
        gc.collect()
        return self.local[j]()

    def _run_isolated(self, j: int) -> Sample:
        system = self.configs[j].system
        conn = self.workers[system][1]
        conn.send(("run", j))
        sample: Sample = _reply(conn, system)
        return sample

    def __exit__(self, *exc: object) -> None:
        for process, conn in self.workers.values():
            with contextlib.suppress(OSError):  # it died already
                conn.send(("stop",))
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
            conn.close()


class WorkerFailed(RuntimeError):
    """A benchmark worker process raised (its traceback is the message) or died."""


def _reply(conn: Any, system: str) -> Any:
    try:
        ok, value = conn.recv()
    except (EOFError, OSError):
        raise WorkerFailed(f"the {system} worker process died") from None
    if not ok:
        raise WorkerFailed(f"in the {system} worker process:\n{value}")
    return value


def _worker(conn: Any) -> None:
    """A worker process: builds runners, runs them on request, sends back samples (or a traceback)."""
    runners: dict[int, Callable[[], Sample]] = {}
    while True:
        message = conn.recv()
        try:
            if message[0] == "stop":
                return
            if message[0] == "warm":
                message[1]()()
                reply: Any = None
            elif message[0] == "make":
                runners[message[1]] = message[2]()
                reply = None
            else:
                gc.collect()
                reply = runners[message[1]]()
        except BaseException:  # everything goes back to the parent, which raises it
            conn.send((False, traceback.format_exc()))
        else:
            conn.send((True, reply))
