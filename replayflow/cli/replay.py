"""``replayflow replay HISTORY.json... MODULE:WORKFLOW``: replay recorded histories against the current code.

Run it in CI before deploying a change: each history (as ``replayflow history --json``, the AWS CLI or
boto3 dump it) is replayed, with no service and no side effects, against the workflow as the code defines
it now. The exit status is 1 when any history no longer matches the code (non-determinism, or a recorded
result the code can no longer read), 2 when a history or the workflow cannot be loaded, 0 otherwise.
A history whose results the official AWS SDK wrote (its ``{"t": ..., "v": ...}`` envelopes) is read as the
official SDK reads it, and the report says so.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from replayflow._envelope import HistoryFormat, history_format, writes_official
from replayflow._errors import SerDesError

from ._common import import_workflow

if TYPE_CHECKING:
    from replayflow.testing import RecordedHistory, ReplayReport

__all__ = ["add_parser", "run"]

#: Exit statuses.
OK, INCOMPATIBLE, UNUSABLE = 0, 1, 2


def add_parser(parser: argparse.ArgumentParser) -> None:
    """Declare the command's arguments."""
    parser.add_argument(
        "histories",
        nargs="+",
        metavar="HISTORY",
        help="history JSON files (GetDurableExecutionHistory/State dumps, `replayflow history --json`) or "
        "directories of them",
    )
    parser.add_argument("workflow", metavar="MODULE:WORKFLOW", help="the workflow (or @durable handler) to replay")
    parser.add_argument("--input", help="JSON input to replay with instead of the recorded one")
    parser.add_argument("--json", action="store_true", help="print one JSON object per history instead of text")
    parser.epilog = (
        "exit status: 0 every history replays, 1 a history no longer matches the code, 2 cannot load something"
    )


def run(args: argparse.Namespace) -> int:
    """Replay every history; print a report; return the exit status."""
    loaded = _load(args)
    if loaded is None:
        return UNUSABLE
    workflow, replay_input = loaded
    status = OK
    checked = failed = 0
    for path in _expand(args.histories):
        incompatible = _check(args, sys.stdout, workflow, replay_input, path)
        if incompatible is None:
            status = max(status, UNUSABLE)
            continue
        checked += 1
        if incompatible:
            failed += 1
            status = max(status, INCOMPATIBLE)
    if not args.json and checked > 1:
        verdict = "all match the code" if not failed else f"{failed} no longer match the code"
        print(f"{checked} histories replayed against {args.workflow}: {verdict}", file=sys.stdout)
    return status


def _load(args: argparse.Namespace) -> tuple[Callable[..., Any], object] | None:
    """The workflow and the input to replay with (UNSET: the recorded one); ``None`` (said on stderr) if not."""
    from replayflow.testing._history import UNSET

    try:
        workflow = import_workflow(args.workflow)
    except (ImportError, AttributeError, ValueError, TypeError) as exc:
        print(f"replayflow replay: cannot load the workflow {args.workflow}: {exc}", file=sys.stderr)
        return None
    if args.input is None:
        return workflow, UNSET
    try:
        return workflow, json.loads(args.input)
    except ValueError as exc:
        print(f"replayflow replay: --input is not JSON: {exc}", file=sys.stderr)
        return None


def _check(
    args: argparse.Namespace, out: TextIO, workflow: Callable[..., Any], replay_input: object, path: str
) -> bool | None:
    """Replay one history and print its report: whether it no longer matches the code (``None``: unreadable)."""
    from replayflow.testing import HistoryFormatError, load_history, replay

    try:
        recorded = load_history(path)
    except HistoryFormatError as exc:
        print(f"replayflow replay: {exc}", file=sys.stderr)
        return None
    report = replay(workflow, recorded, input=replay_input)
    incompatible = report.outcome == "non-determinism" or isinstance(report.error, SerDesError)
    payloads = history_format(recorded.operations)
    if args.json:
        data = _as_json(path, recorded, report, incompatible)
        data["payloadFormat"] = payloads.kind
        print(json.dumps(data), file=out)
    else:
        _print_text(out, path, recorded, report, incompatible)
        _print_payloads(out, payloads, workflow)
    return incompatible


def _expand(paths: list[str]) -> Iterator[str]:
    for path in paths:
        if Path(path).is_dir():
            yield from (str(p) for p in sorted(Path(path).glob("*.json")))
        else:
            yield path


_FORMATS = {
    "events": "GetDurableExecutionHistory events",
    "operations": "operation records",
    "invocation": "an invocation event",
}


def _print_text(out: TextIO, path: str, recorded: RecordedHistory, report: ReplayReport, incompatible: bool) -> None:
    count = len(recorded.operations)
    status = f", execution {recorded.status}" if recorded.status else ""
    print(f"{path}: {count} operations ({_FORMATS.get(recorded.format, recorded.format)}){status}", file=out)
    for warning in recorded.warnings:
        print(f"  warning: {warning}", file=out)
    error = report.error
    if report.outcome == "non-determinism":
        print(f"  NON-DETERMINISM: {error}", file=out)
        print("  in-flight executions with this history would FAIL after deploying this code", file=out)
        return
    if incompatible:
        print(f"  INCOMPATIBLE: {error}", file=out)
        print("  the code can no longer read what this history recorded", file=out)
        return
    print(f"  OK: the code follows the history; {_outcome(report)}", file=out)


def _print_payloads(out: TextIO, payloads: HistoryFormat, workflow: Callable[..., Any]) -> None:
    """Which format the history's results use, when it is not replayflow's plain JSON."""
    if payloads.kind not in ("official", "mixed"):
        return
    print(f"  payloads: {payloads.describe()}; read as the official SDK reads them", file=out)
    if not writes_official(workflow):
        print(
            "  note: this code writes new results as plain JSON, which the official SDK cannot read back: "
            "use @durable(serdes=replayflow.OFFICIAL_FORMAT) to keep a rollback to it possible",
            file=out,
        )


def _outcome(report: ReplayReport) -> str:
    if report.outcome == "completed":
        return f"the workflow completes with {_short(report.result)}"
    if report.outcome == "failed":
        return f"the workflow fails with {type(report.error).__name__}: {report.error}"
    nexts = [n.describe() for n in report.next_operations]
    if nexts:
        return "next it would " + "; ".join(nexts)
    waiting = ", ".join(str(w) for w in report.waiting_on)
    return f"it is waiting on {waiting}" if waiting else "it is suspended"


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def _as_json(path: str, recorded: RecordedHistory, report: ReplayReport, incompatible: bool) -> dict[str, Any]:
    error = report.error
    data: dict[str, Any] = {
        "history": path,
        "format": recorded.format,
        "operations": len(recorded.operations),
        "recordedStatus": recorded.status,
        "outcome": str(report.outcome),
        "compatible": not incompatible,
        "warnings": list(recorded.warnings),
        "next": [n.describe() for n in report.next_operations],
        "waitingOn": [str(w) for w in report.waiting_on],
    }
    if error is not None:
        data["error"] = {"type": type(error).__name__, "message": str(error)}
        for key in ("operation_id", "position", "name", "recorded", "attempted", "location"):
            value = getattr(error, key, None)
            if value is not None:
                data["error"][key] = value
    return data
