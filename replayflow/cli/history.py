"""``replayflow history EXECUTION``: an execution's event history, as a timeline or as JSON.

Reads a SQLite store written by ``replayflow run --store`` / ``replayflow serve --store``, or asks a
running ``replayflow serve`` (``--endpoint``) with boto3, exactly as one would ask AWS. ``--json`` writes
``{"Execution": ..., "Events": [...]}`` (timestamps as epoch seconds), which ``replayflow replay`` and
``replayflow.testing.load_history`` read (from a store it adds ``"Usage"``: operations, bytes written,
invocations and the estimated cost). A store is opened read-only: reading never writes, and works while
``replayflow run`` or ``serve`` writes it. Exit status 0, or 2 with one line on stderr when the store or
the execution cannot be read.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
from typing import TYPE_CHECKING, Any

from ._common import all_events, describe_event, epoch_seconds, read_store

if TYPE_CHECKING:
    from replayflow.local.usage import Usage

__all__ = ["add_parser", "run"]


def add_parser(parser: argparse.ArgumentParser) -> None:
    """Declare the command's arguments."""
    parser.add_argument("execution", metavar="EXECUTION_ARN", help="the durable execution's ARN")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--store", metavar="PATH", help="the SQLite store the execution was kept in")
    source.add_argument("--endpoint", metavar="URL", help="a running `replayflow serve` (or AWS) endpoint")
    parser.add_argument("--json", action="store_true", help="print the execution and its events as JSON")
    parser.add_argument("--html", metavar="FILE", help="write the console's view of the execution as one HTML page")


def run(args: argparse.Namespace) -> int:
    """Print the history; return 0, or 2 when the store or the execution cannot be read."""
    try:
        execution, events, usage = _from_store(args) if args.store else (*_from_endpoint(args), None)
    except Exception as exc:
        print(f"replayflow history: {exc}", file=sys.stderr)
        return 2
    if args.html:
        return _write_html(args.html, execution, events)
    if args.json:
        _print_json(execution, events, usage)
    else:
        _print_timeline(execution, events, usage)
    return 0


def _print_json(execution: dict[str, Any], events: list[dict[str, Any]], usage: Usage | None) -> None:
    document: dict[str, object] = {"Execution": execution, "Events": events}
    if usage is not None:
        document["Usage"] = usage.to_dict()
    print(json.dumps(document, indent=2, default=_seconds))


def _print_timeline(execution: dict[str, Any], events: list[dict[str, Any]], usage: Usage | None) -> None:
    print(f"{execution.get('DurableExecutionName')}  {execution.get('Status')}  {execution.get('DurableExecutionArn')}")
    start = events[0]["EventTimestamp"] if events else 0
    for event in events:
        print(describe_event(event, start))
    if execution.get("Status") == "SUCCEEDED" and "Result" in execution:
        print(f"result: {execution['Result']}")
    elif execution.get("Error"):
        error = execution["Error"]
        print(f"error: {error.get('ErrorType')}: {error.get('ErrorMessage')}")
    if usage is not None:
        print(f"usage: {usage.describe()}")
        for warning in usage.warnings():
            print(f"warning: {warning}")


def _write_html(path: str, execution: dict[str, Any], events: list[dict[str, Any]]) -> int:
    from pathlib import Path

    from replayflow.console import execution_view, render_page

    view = execution_view(_milliseconds(execution), _milliseconds(events))
    parts = str(execution.get("FunctionArn", "")).split(":")
    view["function"] = parts[6] if len(parts) > 6 else ""
    Path(path).write_text(render_page(view), encoding="utf-8")
    print(f"wrote {path}", file=sys.stderr)
    return 0


_STAMPS = frozenset(
    {"EventTimestamp", "StartTimestamp", "EndTimestamp", "ScheduledEndTimestamp", "ExpectedExecutionTimeoutTimestamp"}
)


def _milliseconds(value: Any, key: str = "") -> Any:
    """Epoch-second timestamps (as ``--json`` writes them) as the epoch milliseconds the console reads."""
    if key in _STAMPS and isinstance(value, int | float):
        return round(value * 1000)
    if isinstance(value, dict):
        return {k: _milliseconds(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_milliseconds(v) for v in value]
    return value


def _from_store(args: argparse.Namespace) -> tuple[dict[str, Any], list[dict[str, Any]], Usage | None]:
    with read_store(args.store) as service:
        execution = service.describe(args.execution, timestamp=epoch_seconds)
        return execution, all_events(service, args.execution), service.usage(args.execution)


def _from_endpoint(args: argparse.Namespace) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    import boto3

    client: Any = boto3.client(
        "lambda",
        endpoint_url=args.endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    execution = client.get_durable_execution(DurableExecutionArn=args.execution)
    execution.pop("ResponseMetadata", None)
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"DurableExecutionArn": args.execution, "IncludeExecutionData": True}
    while True:
        page = client.get_durable_execution_history(**kwargs)
        events.extend(page["Events"])
        if not page.get("NextMarker"):
            break
        kwargs["Marker"] = page["NextMarker"]
    return _plain(execution), _plain(events)


def _plain(value: Any) -> Any:
    if isinstance(value, _dt.datetime):
        return value.timestamp()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _seconds(value: object) -> float:
    if isinstance(value, _dt.datetime):
        return value.timestamp()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
