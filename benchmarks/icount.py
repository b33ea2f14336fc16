"""Instructions per replayed operation, counted by valgrind: ``python -m benchmarks.icount [--n 1000 ...]``.

Wall-clock ratios move with the machine's load; instruction counts do not. For each system (replayflow
and the tight floor) and each N, a worker replays the same workload (``workload.py``) ``--runs`` times
under ``valgrind --tool=callgrind`` with collection off, and a tiny C shim (built here with the system C
compiler) turns collection on at the handler's entry (after the event parse) and off at the mark the
workflow takes before its first new operation: exactly the "from handler entry" span of the replay
table. The worker first runs the replay 20 times, as a warm process has: a function called once per
invocation is specialized after 8 calls. Needs ``valgrind``, its ``valgrind/callgrind.h`` header and
``cc``; prints a markdown table.

``--cold`` also simulates the caches (callgrind's ``--cache-sim``, an 8 MB last level) and evicts them
(writes 16 MB) before each counted replay, as other processes do between two invocations of a warm
Lambda process, and counts last-level misses (instruction and data). At small N these, not the
instructions, are most of the wall-clock time: each costs tens of nanoseconds.
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


_CACHE_SIM = ["--cache-sim=yes", "--LL=8388608,16,64"]
_EVICT_BYTES = 16 << 20
#: callgrind's names of the last-level misses: instruction reads, data reads, data writes
_LL_MISSES = (b"ILmr", b"DLmr", b"DLmw")


def count(system: str, n: int, runs: int, library: Path, *, cold: bool = False) -> tuple[int, int]:
    """Instructions and (``cold``; else 0) last-level cache misses of one replay from handler entry to the
    first new operation (means of ``runs``)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        worker = [sys.executable, "-m", "benchmarks.icount", "--worker", system, str(n), str(runs), str(library)]
        if cold:
            worker.append("--evict")
        options = ["--collect-atstart=no", f"--callgrind-out-file={out}", *(_CACHE_SIM if cold else [])]
        command = ["valgrind", "--tool=callgrind", *options, *worker]
        subprocess.run(command, check=True, capture_output=True, env={**os.environ, "PYTHONHASHSEED": "0"})
        text = out.read_bytes()
        events = re.search(rb"^events:\s*(.+)$", text, re.M)
        totals = re.search(rb"^totals:\s*(.+)$", text, re.M)
        if events is None or totals is None:
            raise RuntimeError(f"no totals in the callgrind output of {system} at N={n}")
        values = dict(zip(events.group(1).split(), map(int, totals.group(1).split()), strict=True))
        misses = sum(values.get(name, 0) for name in _LL_MISSES)
        return values[b"Ir"] // runs, misses // runs


def _worker(system: str, n: int, runs: int, library: str, evict: bool) -> None:
    from . import sys_floor, sys_replayflow
    from .workload import build_workload

    module = {"replayflow": sys_replayflow, "floor": sys_floor}[system]
    run = module.make_replay(build_workload(n, paged=False))
    for _ in range(20):  # warm: specialized bytecode, cached root ids
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
    garbage = bytearray(_EVICT_BYTES) if evict else None  # written over before each counted replay
    for _ in range(runs):
        if garbage is not None:
            garbage[:] = bytes(_EVICT_BYTES)  # (collection is off: not counted)
        run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, nargs="+", default=[1, 100, 1_000, 10_000], help="history sizes")
    parser.add_argument("--runs", type=int, default=10, help="replays counted per system and N")
    parser.add_argument("--cold", action="store_true", help="evict the caches before each replay; count misses")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--evict", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        system, n, runs, library = args.worker
        _worker(system, int(n), int(runs), library, args.evict)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        library = _build_shim(Path(tmp))
        header = "| N | replayflow, instructions | per op | floor, instructions | per op | replayflow ÷ floor |"
        rule = "|---:|---:|---:|---:|---:|---:|"
        if args.cold:
            header += " replayflow, LL misses | floor, LL misses | misses: replayflow ÷ floor |"
            rule += "---:|---:|---:|"
        print(header)
        print(rule)
        for n in args.n:
            (ours, our_misses), (floor, floor_misses) = (
                count(system, n, args.runs, library, cold=args.cold) for system in SYSTEMS
            )
            per = max(n, 1)
            row = f"| {n:,} | {ours:,} | {ours // per:,} | {floor:,} | {floor // per:,} | {ours / floor:.2f}x |"
            if args.cold:
                row += f" {our_misses:,} | {floor_misses:,} | {our_misses / floor_misses:.2f}x |"
            print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
