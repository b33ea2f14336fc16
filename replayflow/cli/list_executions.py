"""``replayflow list --store PATH``: the executions kept in a store, newest first.

One line per execution: status, name, function, start time (UTC), duration (a running execution's runs
to its latest event), durable operations used, and the ARN (quoted for the shell, as ``replayflow
history`` takes it). The store is opened read-only, so this works while ``replayflow run`` or ``serve``
writes it. ``--json`` prints a JSON array instead. Exit status 0, or 2 with one line on stderr when the
store cannot be read.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
from typing import Any

from ._common import read_store, shell_quote

__all__ = ["add_parser", "run"]


def add_parser(parser: argparse.ArgumentParser) -> None:
    """Declare the command's arguments."""
    parser.add_argument("--store", metavar="PATH", required=True, help="the SQLite store to list")
    parser.add_argument("--function", help="only executions of this function")
    parser.add_argument("--status", action="append", default=[], help="only executions with this status")
    parser.add_argument("--json", action="store_true", help="print a JSON array instead of a table")


def run(args: argparse.Namespace) -> int:
    """Print the executions; return the exit status."""
    try:
        rows = _rows(args)
    except Exception as exc:
        print(f"replayflow list: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(f"no executions in {args.store}")
        return 0
    header = ("STATUS", "NAME", "FUNCTION", "STARTED (UTC)", "DURATION", "OPS", "ARN")
    table = [
        (
            r["status"],
            r["name"],
            r["function"],
            _when(r["start"]),
            _duration(r["durationSeconds"]),
            str(r["operations"]),
        )
        for r in rows
    ]
    widths = [max(len(header[i]), *(len(t[i]) for t in table)) for i in range(len(header) - 1)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=False)) + "  ARN")
    for cells, row in zip(table, rows, strict=True):
        print("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + "  " + shell_quote(row["arn"]))
    return 0


def _rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    with read_store(args.store) as service:
        now = service.clock.now()
        rows = []
        for view in service.executions():
            execution = service.describe(view.arn, include_data=False, timestamp=lambda ms: ms / 1000)
            function = execution["FunctionArn"].split(":function:")[1].split(":")[0]
            if args.function and function != args.function:
                continue
            if args.status and execution["Status"] not in args.status:
                continue
            start = execution["StartTimestamp"]
            end = execution.get("EndTimestamp")
            rows.append(
                {
                    "arn": view.arn,
                    "name": execution["DurableExecutionName"],
                    "function": function,
                    "status": execution["Status"],
                    "start": start,
                    "end": end,
                    "durationSeconds": round((end if end is not None else now) - start, 3),
                    "operations": service.usage(view.arn).operations,
                }
            )
    rows.sort(key=lambda r: r["start"], reverse=True)
    return rows


def _when(seconds: float) -> str:
    return _dt.datetime.fromtimestamp(seconds, _dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return (f"{days}d " if days else "") + f"{hours:02d}:{minutes:02d}:{sec:02d}"
