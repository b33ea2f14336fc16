"""Peak RSS growth of one run, in a fresh process: ``python -m benchmarks.memory SYSTEM KIND N PAGED``.

The child builds the workload and warms the system up at N=5 first, then returns freed heap to the OS
(``malloc_trim``), resets the RSS high-water mark (``echo 5 > /proc/self/clear_refs``), runs once and
reports ``VmHWM`` after minus ``VmRSS`` before, as JSON on stdout. Native memory (orjson, C dicts) counts.

Kinds: ``replay``, ``first-run`` and (replayflow only) ``first-run-warm-ids``: a first run in a process
whose root operation id cache (``replayflow._ids.ROOT_IDS``, shared by the invocations a warm process
serves) already holds the run's ids, as after an earlier execution as long. A first run in a fresh
process grows that cache by one id (a 64-character string, about 120 bytes) per new root operation.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .common import Sample

__all__ = ["WARM_IDS", "measure", "peer_kind"]

WARM_IDS = "first-run-warm-ids"


def peer_kind(kind: str) -> str:
    """The official SDK's run kind a row of ``kind`` compares with."""
    return "first-run" if kind == WARM_IDS else kind


def _status_kb(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def _maker(system: str, kind: str, n: int, paged: bool) -> Callable[[], Sample]:
    from . import sys_floor, sys_official, sys_replayflow
    from .workload import build_workload

    module: Any = {"replayflow": sys_replayflow, "official": sys_official, "floor": sys_floor}[system]
    if kind == "replay":
        return module.make_replay(build_workload(n, paged=paged))  # type: ignore[no-any-return]
    return module.make_first_run(n, 0.0)  # type: ignore[no-any-return]


def _child(system: str, kind: str, n: int, paged: bool) -> dict[str, Any]:
    _maker(system, kind, 5, paged)()  # imports, first-call caches
    run = _maker(system, kind, n, paged)
    if kind == WARM_IDS:
        from replayflow._ids import root_id

        root_id(n + 1)  # the ids of the run's N + 1 root steps, cached as a warm process holds them
    gc.collect()
    with contextlib.suppress(OSError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = _status_kb("VmRSS")
    sample = run()
    peak = _status_kb("VmHWM")
    return {
        "system": system,
        "kind": kind,
        "n": n,
        "paged": paged,
        "rss_before_kb": before,
        "peak_delta_kb": peak - before,
        "reach_s": sample.reach,
    }


def measure(system: str, kind: str, n: int, paged: bool) -> dict[str, Any]:
    """Run :func:`_child` in a fresh interpreter and return its report."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.memory", system, kind, str(n), "1" if paged else "0"],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).absolute().parent.parent,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


if __name__ == "__main__":
    system_, kind_, n_, paged_ = sys.argv[1:5]
    print(json.dumps(_child(system_, kind_, int(n_), paged_ == "1")))
