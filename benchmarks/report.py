"""Markdown tables and target checks from the results of one run."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from .bench import Result
from .memory import WARM_IDS, peer_kind

__all__ = ["first_run_table", "import_table", "memory_table", "replay_table", "targets"]


def _find(results: Sequence[Result], system: str, variant: str, n: int) -> Result | None:
    for r in results:
        if (r.system, r.variant, r.n) == (system, variant, n):
            return r
    return None


def _round_range(ours: Result, theirs: Result, slower: bool) -> str:
    """The ratio of each interleaved round (ours ÷ theirs from handler entry, or theirs ÷ ours when
    ``slower``): its middle half and its whole range, e.g. ``"rounds: 1.61-1.88x, all 1.40-2.31x"``."""
    ratios = sorted(
        (b.reach - b.parse) / (a.reach - a.parse) if slower else (a.reach - a.parse) / (b.reach - b.parse)
        for a, b in zip(ours.samples, theirs.samples, strict=False)
    )
    if len(ratios) < 4:
        return f"rounds: {', '.join(f'{x:.2f}x' for x in ratios)}"
    q1, _, q3 = statistics.quantiles(ratios, n=4)
    digits = 1 if slower else 2
    return f"rounds: middle half {q1:.{digits}f}-{q3:.{digits}f}x, all {ratios[0]:.{digits}f}-{ratios[-1]:.{digits}f}x"


def _ms(seconds: float) -> str:
    ms = seconds * 1e3
    return f"{ms:,.1f}" if ms < 10_000 else f"{ms:,.0f}"


def replay_table(results: list[Result]) -> str:
    """Replay: reach-first-new-op medians, us/op, ratio to the floor and the official SDK's time over ours.

    The "from handler entry" columns leave out the event parse, which the Lambda runtime does (identically)
    before any handler runs.
    """
    lines = [
        "| system | history | N | replay -> first new op, median | us/op | x floor | official ÷ this | "
        "from handler entry: us/op | x floor | official ÷ this | whole invocation, median | checkpoint / state "
        "calls | rounds |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        floor = _find(results, "floor", r.variant, r.n)
        official = _find(results, "official", r.variant, r.n)
        x_floor = f"{r.reach / floor.reach:.2f}x" if floor else "-"
        speedup = f"{official.reach / r.reach:.1f}x" if official and r.system != "official" else "-"
        h_floor = f"{r.handler / floor.handler:.2f}x" if floor else "-"
        h_speedup = f"{official.handler / r.handler:.1f}x" if official and r.system != "official" else "-"
        calls = f"{r.checkpoint_calls} / {r.state_calls}"
        lines.append(
            f"| {r.system} | {r.variant} | {r.n:,} | {_ms(r.reach)} ms | {r.reach / r.n * 1e6:.2f} | {x_floor} | "
            f"{speedup} | {r.handler / r.n * 1e6:.2f} | {h_floor} | {h_speedup} | {_ms(r.total)} ms | {calls} | "
            f"{len(r.samples)} |"
        )
    return "\n".join(lines)


def first_run_table(results: list[Result], extrapolated: list[dict[str, Any]]) -> str:
    """First run: wall time, steps per second, checkpoint calls, and our throughput over the official SDK's."""
    lines = [
        "| system | service, latency per call | N new steps | wall, median | steps/s | us/step | checkpoint calls | "
        "x official steps/s | rounds |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        steps = r.n + 1
        official = _find(results, "official", r.variant, r.n)
        ratio = f"{official.total / r.total:.1f}x" if official and r.system != "official" else "-"
        extra = next((e for e in extrapolated if e["variant"] == r.variant and e["n"] == r.n), None)
        if official is None and extra is not None and r.system != "official":
            ratio = f"≈ {extra['total_s'] / r.total:.0f}x (vs extrapolation)"
        lines.append(
            f"| {r.system} | {r.variant} | {r.n:,} | {_ms(r.total)} ms | {steps / r.total:,.0f} | "
            f"{r.total / steps * 1e6:,.1f} | {r.checkpoint_calls:,} | {ratio} | {len(r.samples)} |"
        )
    for e in extrapolated:
        lines.append(
            f"| {e['system']} | {e['variant']} | {e['n']:,} | ≈ {_ms(e['total_s'])} ms **(extrapolated, not run)** | "
            f"≈ {(e['n'] + 1) / e['total_s']:,.0f} | ≈ {e['total_s'] / (e['n'] + 1) * 1e6:,.0f} | "
            f"≈ {e['calls']:,} | - | 0 |"
        )
    return "\n".join(lines)


def _official_peer(rows: list[dict[str, Any]], row: dict[str, Any]) -> dict[str, Any] | None:
    """The official SDK's memory row that ``row`` compares with (same run kind, history form and N)."""
    key = (peer_kind(row["kind"]), row["paged"], row["n"])
    return next((o for o in rows if o["system"] == "official" and (o["kind"], o["paged"], o["n"]) == key), None)


def memory_table(rows: list[dict[str, Any]]) -> str:
    """Peak RSS growth per operation, fresh process per row."""
    lines = [
        "| system | run | history | N | peak RSS Δ | bytes/op | ÷ official |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        official = _official_peer(rows, row)
        ratio = (
            f"{row['peak_delta_kb'] / official['peak_delta_kb']:.2f}"
            if official and official["peak_delta_kb"] and row["system"] != "official"
            else "-"
        )
        per_op = row["peak_delta_kb"] * 1024 / row["n"]
        history = "paged" if row["paged"] else "1 page"
        lines.append(
            f"| {row['system']} | {row['kind']} | {history} | {row['n']:,} | {row['peak_delta_kb'] / 1024:,.1f} MB | "
            f"{per_op:,.0f} | {ratio} |"
        )
    return "\n".join(lines)


def import_table(rows: list[dict[str, Any]]) -> str:
    """Cold import time (fresh interpreter, -X importtime cumulative) and whether boto3 came with it."""
    lines = ["| module | import time, median | samples | boto3 imported |", "|---|---:|---|---|"]
    for row in rows:
        samples = ", ".join(f"{s * 1e3:.0f}" for s in row["samples"])
        lines.append(
            f"| `{row['module']}` | {row['median_s'] * 1e3:.1f} ms | {samples} | {'yes' if row['boto3'] else 'no'} |"
        )
    return "\n".join(lines)


def targets(
    replay: list[Result],
    first: list[Result],
    memory: list[dict[str, Any]],
    imports: list[dict[str, Any]],
    pipelined: Sequence[Result] = (),
) -> str:
    """The issue's targets, each with the measured figure and PASS / MISS (replay: the median, then the
    range of the ratio over the interleaved rounds)."""
    out = []

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "**MISS**"

    for r in replay:
        if r.system != "replayflow":
            continue
        floor = _find(replay, "floor", r.variant, r.n)
        official = _find(replay, "official", r.variant, r.n)
        if floor:
            x = r.handler / floor.handler
            out.append(
                f"- replay {r.variant}, N={r.n:,}, from handler entry: {x:.2f}x the tight floor (target ≤ 1.5x) "
                f"{verdict(x <= 1.5)} ({_round_range(r, floor, slower=False)})"
            )
        if official:
            s = official.handler / r.handler
            out.append(
                f"- replay {r.variant}, N={r.n:,}, from handler entry: {s:.1f}x faster than official "
                f"(target ≥ 20x) {verdict(s >= 20)} ({_round_range(r, official, slower=True)})"
            )
    for r in first:
        if r.system != "replayflow":
            continue
        official = _find(first, "official", r.variant, r.n)
        if official is None:
            continue
        if r.variant.endswith(" 0 ms"):
            s = official.total / r.total
            out.append(
                f"- first run {r.variant}, N={r.n:,}: {s:.1f}x official steps/s (target ≥ 30x) {verdict(s >= 30)}"
            )
        else:
            out.append(
                f"- first run {r.variant}, N={r.n:,}: {r.checkpoint_calls:,} checkpoint calls vs official "
                f"{official.checkpoint_calls:,} (target ≤) {verdict(r.checkpoint_calls <= official.checkpoint_calls)}"
            )
    for row in memory:
        if row["system"] != "replayflow":
            continue
        peer = _official_peer(memory, row)
        if peer:
            ours, theirs = row["peak_delta_kb"], peer["peak_delta_kb"]
            history = "paged" if row["paged"] else "1 page"
            if max(ours, theirs) < 256:
                result = "n/a: both grew by less than 256 KB, too little for RSS to compare"
            elif ours <= theirs:
                result = "PASS"
            elif ours <= theirs * 1.01:
                result = "PASS within 1% (the run-to-run noise of this measurement)"
            else:
                result = verdict(False)
            if row["kind"] == "first-run" and any(o["kind"] == WARM_IDS for o in memory):
                result += f" (the growth of the process's root id cache: see {WARM_IDS})"
            out.append(
                f"- memory {row['kind']} {history}, N={row['n']:,}: {ours * 1024 / row['n']:,.0f} "
                f"vs official {theirs * 1024 / row['n']:,.0f} bytes/op (target ≤) {result}"
            )
    for r in pipelined:
        official = _find(pipelined, "official", r.variant, r.n)
        if r.system == "replayflow, pipelined" and official is not None:
            s = official.total / r.total
            goal = " (target ≥ 20x)" if r.variant == "local, 10 ms" else ""
            result = f" {verdict(s >= 20)}" if goal else ""
            out.append(
                f"- pipelined first run {r.variant}, N={r.n:,}: {s:.1f}x official steps/s, "
                f"{r.checkpoint_calls:,} checkpoint calls vs {official.checkpoint_calls:,}{goal}{result}"
            )
    for row in imports:
        if row["module"] == "replayflow":
            out.append(f"- `import replayflow` does not import boto3: {verdict(not row['boto3'])}")
            out.append(
                f"- `import replayflow` in {row['median_s'] * 1e3:.0f} ms (target ≤ 60 ms) "
                f"{verdict(row['median_s'] <= 0.060)}"
            )
    return "\n".join(out)
