"""Nothing quadratic: the SDK's work per item is flat from 1k to 4k items (counted, never timed).

The workloads are the benchmark's scale curves (``benchmarks/scale.py``), run on the local service: half of
a map's (or a parallel's) items park on a timer while the other half run steps, so every step completion
used to scan every parked timer. Work is the number of lines the SDK's own modules run on the
interpreter's thread (``tests/workcount.py``), over the first run and the replay.
"""

from __future__ import annotations

import pytest

from benchmarks.scale import run_workload
from tests.workcount import count_lines


def _sdk_lines_per_item(workload: str, n: int) -> float:
    invocations = run_workload(workload, n, lambda: count_lines("/replayflow/_"))
    assert len(invocations) == 2  # the first run suspends on the timers; the replay finishes
    return sum(i.work for i in invocations) / n


@pytest.mark.slow
def test_work_per_item_is_flat_with_half_the_items_parked_on_timers() -> None:
    workload = "map, half on timers"  # parallel branches take the same path (benchmarks show both curves)
    small, large = _sdk_lines_per_item(workload, 1_000), _sdk_lines_per_item(workload, 4_000)
    assert small > 100  # the counter sees the SDK's work
    assert large < small * 1.2, f"{small:.0f} lines per item at 1k items, {large:.0f} at 4k"
