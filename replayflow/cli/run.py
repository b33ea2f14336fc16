"""``replayflow run MODULE:WORKFLOW --input JSON``: run a workflow to its end on the local durable service.

Time is virtual by default (a two-hour wait takes no time); ``--real-time`` waits for real. The history
scrolls by on a terminal, one line per event; the result JSON goes to stdout. The exit status is 0 when the
execution succeeded, 1 when it failed, timed out or was stopped, 2 (with one line on stderr) when the
workflow, the input or the store cannot be used or the name is taken with another input.
``--callback NAME=RESULT`` answers a callback as soon as the workflow creates it (otherwise virtual time
runs on to its timeout). With ``--store PATH`` the execution is kept in a SQLite file (see
``replayflow history`` and ``replayflow list``) and survives the process: run the same command again and it
resumes. Which execution a re-run resumes: with ``--name``, the execution of that name (AWS's rule: the
same name and input is the same execution; another input is an error); without, the newest execution of
the same function with the same input JSON that is still RUNNING (a finished one is not resumed: the
command then starts a new execution). The store belongs to this process while it runs (a second
``run``/``serve`` on it is refused). The execution ARN and, at the end, its usage (durable operations,
bytes written, invocations, estimated cost; a warning above 80% of a quota) go to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from typing import TYPE_CHECKING, Any

from ._common import all_events, function_name, load_handler, open_service, read_json_argument, shell_quote
from ._timeline import Timeline

if TYPE_CHECKING:
    from replayflow._handler import DurableHandler
    from replayflow.local import LocalDurableService
    from replayflow.local.records import ExecutionResult
    from replayflow.local.usage import Usage
    from replayflow.testing import CallbackAction

__all__ = ["add_parser", "run"]


def add_parser(parser: argparse.ArgumentParser) -> None:
    """Declare the command's arguments."""
    parser.add_argument("workflow", metavar="MODULE:WORKFLOW", help="the @durable handler or workflow function")
    parser.add_argument("--input", help="the input as JSON, or @FILE, or - for stdin (default: null)")
    parser.add_argument("--store", metavar="PATH", help="keep executions in this SQLite file")
    parser.add_argument("--real-time", action="store_true", help="wait in real time instead of virtual time")
    parser.add_argument("--name", help="the execution's name (default: generated)")
    parser.add_argument("--function", help="the function name to register (default: the workflow's name)")
    parser.add_argument("--timeout", type=float, help="give up after this many real seconds")
    parser.add_argument(
        "--execution-timeout",
        type=int,
        metavar="SECONDS",
        help="the execution's own timeout, in (virtual) seconds (default 86400: 24 hours, as on AWS)",
    )
    parser.add_argument("--quiet", action="store_true", help="print only the result")
    parser.add_argument(
        "--callback",
        action="append",
        default=[],
        metavar="NAME=RESULT",
        help="answer the callback NAME (or wait_for_callback NAME) with RESULT (sent as given) when it is created",
    )
    parser.add_argument(
        "--callback-error",
        action="append",
        default=[],
        metavar="NAME=MESSAGE",
        help="fail the callback NAME with MESSAGE when it is created",
    )


def run(args: argparse.Namespace) -> int:
    """Run the execution; print progress and the result; return the exit status."""
    try:
        handler, payload, answers = _inputs(args)
    except (ImportError, AttributeError, ValueError, TypeError, OSError) as exc:
        print(f"replayflow run: {exc}", file=sys.stderr)
        return 2
    from replayflow._errors import ServiceError
    from replayflow.local import StoreError

    try:
        service = open_service(args.store, args.real_time)
    except StoreError as exc:
        print(f"replayflow run: {exc}", file=sys.stderr)
        return 2
    arn = None
    try:
        name = args.function or function_name(args.workflow)
        service.register(name, handler, execution_timeout=args.execution_timeout)
        arn, resumed = _start_or_resume(service, name, json.dumps(payload), args.name)
        if not args.quiet:
            print(f"{'resuming' if resumed else 'execution'} {arn}", file=sys.stderr)
        progress = not args.quiet and sys.stderr.isatty()
        outcome = _drive(service, arn, args.timeout, progress, answers)
        usage = service.usage(arn)
    except (ServiceError, StoreError) as exc:
        print(f"replayflow run: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted" + _resume_hint(args.store, arn), file=sys.stderr)
        return 130
    finally:
        service.close()
    if not args.quiet:
        _print_usage(usage, arn, args.store)
    return _report(args, service, arn, outcome)


def _resume_hint(store: str | None, arn: str | None) -> str:
    """How to resume an interrupted execution kept in a store (nothing without a store)."""
    if not (store and arn):
        return ""
    where = f"replayflow history {shell_quote(arn)} --store {shell_quote(store)}"
    return f"; run the same command again to resume, or see {where}"


def _inputs(args: argparse.Namespace) -> tuple[DurableHandler[Any], object, dict[str, CallbackAction]]:
    """The handler, the input and the callback answers the arguments name (``ValueError`` & co. if they cannot)."""
    handler = load_handler(args.workflow)
    payload = read_json_argument(args.input)
    answers = _callback_answers(args.callback, args.callback_error)
    if answers and args.real_time:
        raise ValueError(
            "--callback needs virtual time; with --real-time, serve the workflow (replayflow serve) "
            "and answer with replayflow callback"
        )
    return handler, payload, answers


def _report(
    args: argparse.Namespace, service: LocalDurableService, arn: str, outcome: ExecutionResult | Exception
) -> int:
    """Print how the execution ended (its result, or its error and hints); the exit status."""
    if isinstance(outcome, BaseException):
        print(f"replayflow run: {outcome}", file=sys.stderr)
        return 1
    if outcome.result is not None:
        print(json.dumps(outcome.value, indent=2, sort_keys=False))
    if outcome.succeeded:
        return 0
    error = outcome.error or {}
    print(f"execution {outcome.status}: {error.get('ErrorType', '')}: {error.get('ErrorMessage', '')}", file=sys.stderr)
    if not args.real_time:
        for name in _timed_out_callbacks(service, arn):
            print(
                f"hint: callback {name!r} timed out in virtual time: nobody answered it. "
                f"Answer it with --callback '{name}=RESULT'.",
                file=sys.stderr,
            )
    return 1


def _print_usage(usage: Usage, arn: str, store: str | None) -> None:
    """What the execution used of its quotas (with warnings near one), and how to see its history."""
    print(f"usage: {usage.describe()}", file=sys.stderr)
    for warning in usage.warnings():
        print(f"warning: {warning}", file=sys.stderr)
    if store:
        print(f"history: replayflow history {shell_quote(arn)} --store {shell_quote(store)}", file=sys.stderr)


def _start_or_resume(service: LocalDurableService, function: str, payload: str, name: str | None) -> tuple[str, bool]:
    """The execution this command refers to: ``(arn, resumed)`` (see the module docstring)."""
    if name is None:
        listed = service.list_durable_executions_by_function(function, Statuses=["RUNNING"])
        running = listed["DurableExecutions"]  # newest first
        for item in running:
            if service.describe(item["DurableExecutionArn"]).get("InputPayload") == payload:
                return item["DurableExecutionArn"], True
    before = {view.arn for view in service.executions()} if name is not None else set()
    arn = service.start_execution(function, payload, name=name)
    return arn, arn in before


def _callback_answers(succeed: list[str], fail: list[str]) -> dict[str, CallbackAction]:
    """``NAME=RESULT`` and ``NAME=MESSAGE`` arguments as the testing toolkit's callback actions."""
    from replayflow.testing import fail as failure
    from replayflow.testing import succeed as success

    answers: dict[str, CallbackAction] = {}
    for flag, values, action in (("--callback", succeed, success), ("--callback-error", fail, failure)):
        for value in values:
            name, sep, text = value.partition("=")
            if not sep or not name:
                raise ValueError(f"{flag} takes NAME=VALUE, got {value!r}")
            answers[name] = action(text)
    return answers


def _timed_out_callbacks(service: LocalDurableService, arn: str) -> list[str]:
    names = []
    for event in all_events(service, arn):
        if event["EventType"] == "CallbackTimedOut" and event.get("Name"):
            names.append(event["Name"].removesuffix(" create callback id"))
    return names


def _drive(
    service: LocalDurableService,
    arn: str,
    timeout: float | None,
    progress: bool,
    answers: dict[str, CallbackAction],
) -> ExecutionResult | Exception:
    """Drive the service on a thread; on a terminal, print each new history event as it lands."""
    outcome: dict[str, ExecutionResult | Exception] = {}

    def drive() -> None:
        try:
            if answers:
                from replayflow.testing import LocalExecution

                LocalExecution(service, arn, owned=False, timeout=timeout or 60.0).answer_callbacks(answers)
            outcome["result"] = service.wait(arn, timeout=timeout)
        except Exception as exc:
            outcome["result"] = exc

    thread = threading.Thread(target=drive, name="replayflow-run", daemon=True)
    thread.start()
    shown = 0
    timeline: Timeline | None = None
    while True:
        thread.join(0.05)
        finished = not thread.is_alive()
        if progress:
            events = all_events(service, arn)
            if events and timeline is None:
                timeline = Timeline(events[0]["EventTimestamp"])
            for event in events[shown:]:
                for line in timeline.lines(event) if timeline is not None else ():
                    print(line, file=sys.stderr)
            shown = len(events)
        if finished:
            return outcome["result"]
