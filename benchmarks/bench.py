"""Interleaved timing: every config of one N runs in the same process, round-robin, order rotated each round."""

from __future__ import annotations

import gc
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .common import Sample

__all__ = ["Config", "Result", "interleave"]


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
    configs: list[Config], rounds: int, *, warmups: Sequence[Callable[[], Sample]] = (), verbose: bool = True
) -> list[Result]:
    """Run ``rounds`` rounds of every config; config k of round r runs at position (k + r) mod len."""
    for warm in warmups:
        warm()
    runners = [c.make() for c in configs]
    results = [Result(c.system, c.variant, c.n) for c in configs]
    count = len(configs)
    for r in range(rounds):
        for k in range(count):
            j = (k + r) % count
            config = configs[j]
            if config.rounds is not None and r >= config.rounds:
                continue
            gc.collect()
            sample = runners[j]()
            results[j].samples.append(sample)
            if verbose:
                print(
                    f"  round {r + 1}/{rounds} {config.system:<10} {config.variant:<14} N={config.n:<7,} "
                    f"reach {sample.reach * 1e3:9.1f} ms  total {sample.total * 1e3:9.1f} ms",
                    file=sys.stderr,
                    flush=True,
                )
    return results
