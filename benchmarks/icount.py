"""Instructions per replayed operation, counted by valgrind: ``python -m benchmarks.icount [--n 1000 ...]``.

Wall-clock ratios move with the machine's load; instruction counts do not. For each system (replayflow
and the tight floor) and each N, a worker replays the same workload (``workload.py``) ``--runs`` times
under ``valgrind --tool=callgrind`` with collection off, and a tiny C shim (built here with the system C
compiler) turns collection on at the handler's entry (after the event parse) and off at the mark the
workflow takes before its first new operation: exactly the "from handler entry" span of the replay
table. Needs ``valgrind``, its ``valgrind/callgrind.h`` header and ``cc``; prints a markdown table.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["count", "main"]

_SHIM = "#include <valgrind/callgrind.h>\nvoid toggle(void) { CALLGRIND_TOGGLE_COLLECT; }\n"
SYSTEMS = ("replayflow", "floor")


def _build_shim(directory: Path) -> Path:
    source, library = directory / "toggle.c", directory / "libtoggle.so"
    source.write_text(_SHIM)
    subprocess.run([os.environ.get("CC", "cc"), "-O2", "-shared", "-fPIC", "-o", library, source], check=True)
    return library


def count(system: str, n: int, runs: int, library: Path) -> int:
    """Instructions of one replay from handler entry to the first new operation (mean of ``runs``)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        worker = [sys.executable, "-m", "benchmarks.icount", "--worker", system, str(n), str(runs), str(library)]
        command = ["valgrind", "--tool=callgrind", "--collect-atstart=no", f"--callgrind-out-file={out}", *worker]
        subprocess.run(command, check=True, capture_output=True, env={**os.environ, "PYTHONHASHSEED": "0"})
        totals = re.search(rb"^totals:\s*(\d+)", out.read_bytes(), re.M)
        if totals is None:
            raise RuntimeError(f"no instruction total in the callgrind output of {system} at N={n}")
        return int(totals.group(1)) // runs


def _worker(system: str, n: int, runs: int, library: str) -> None:
    from . import sys_floor, sys_replayflow
    from .workload import build_workload

    module = {"replayflow": sys_replayflow, "floor": sys_floor}[system]
    run = module.make_replay(build_workload(n, paged=False))
    for _ in range(3):  # warm: specialized bytecode, cached root ids
        run()
    gc.collect()
    toggle = ctypes.CDLL(library).toggle
    clock = time.perf_counter
    calls = 0

    def marking() -> float:  # perf_counter calls 2 and 3 of each run: after the parse, at the mark
        nonlocal calls
        calls += 1
        if calls % 4 in (2, 3):
            toggle()
        return clock()

    module.__dict__["perf_counter"] = marking  # what the harness and its workflow read
    for _ in range(runs):
        run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, nargs="+", default=[1, 100, 1_000, 10_000], help="history sizes")
    parser.add_argument("--runs", type=int, default=10, help="replays counted per system and N")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        system, n, runs, library = args.worker
        _worker(system, int(n), int(runs), library)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        library = _build_shim(Path(tmp))
        print("| N | replayflow, instructions | per op | floor, instructions | per op | replayflow ÷ floor |")
        print("|---:|---:|---:|---:|---:|---:|")
        for n in args.n:
            ours, floor = (count(system, n, args.runs, library) for system in SYSTEMS)
            per = max(n, 1)
            print(f"| {n:,} | {ours:,} | {ours // per:,} | {floor:,} | {floor // per:,} | {ours / floor:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
