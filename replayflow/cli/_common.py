"""What the commands share: loading workflows, reading inputs, opening the local service, timelines."""

from __future__ import annotations

import datetime as _dt
import json
import os
import shlex
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from replayflow import DurableHandler
    from replayflow.local import LocalDurableService

__all__ = [
    "describe_event",
    "epoch_seconds",
    "function_name",
    "import_workflow",
    "load_handler",
    "open_service",
    "read_json_argument",
    "read_store",
    "shell_quote",
]


def import_workflow(spec: str) -> Callable[..., Any]:
    """Import ``package.module:attribute`` (dots after the colon walk attributes); the cwd is importable."""
    from replayflow.local.records import import_handler

    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    if ":" not in spec:
        raise ValueError("give the workflow as MODULE:WORKFLOW, e.g. orders.workflows:process_order")
    return import_handler(spec)


def load_handler(spec: str) -> DurableHandler[Any]:
    """The ``@durable`` handler at ``spec``; a plain workflow function is wrapped with ``@durable``."""
    from replayflow import DurableHandler, durable

    obj = import_workflow(spec)
    return obj if isinstance(obj, DurableHandler) else durable(obj)


def function_name(spec: str) -> str:
    """The function name a workflow is registered under: its attribute name, made a valid Lambda name."""
    name = spec.partition(":")[2].rsplit(".", 1)[-1]
    cleaned = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:64]
    return cleaned or "workflow"


def read_json_argument(text: str | None) -> object:
    """A JSON value given inline, or ``@path`` to read it from a file (``-`` for stdin)."""
    if text is None:
        return None
    if text == "-":
        text = sys.stdin.read()
    elif text.startswith("@"):
        text = Path(text[1:]).read_text()
    return json.loads(text)


def open_service(store: str | None, real_time: bool) -> LocalDurableService:
    """The local service with a virtual clock (default) or the real one, in memory or on a SQLite file."""
    from replayflow.local import LocalDurableService, RealClock, VirtualClock

    clock = RealClock() if real_time else VirtualClock()
    return LocalDurableService(clock=clock, store=store)


def read_store(path: str) -> LocalDurableService:
    """The local service over a SQLite store opened read-only: nothing is resumed, run or written.

    Raises :class:`replayflow.local.StoreError` for a missing, corrupt or foreign file.
    """
    from replayflow.local import LocalDurableService

    return LocalDurableService(store=path, read_only=True)


def shell_quote(text: str) -> str:
    """``text`` as one shell word (ARNs contain ``$LATEST``, which a shell would expand)."""
    return shlex.quote(text)


def epoch_seconds(ms: int) -> float:
    return ms / 1000


_ENDINGS = {
    "Succeeded": "ok",
    "Failed": "FAILED",
    "TimedOut": "TIMED OUT",
    "Stopped": "STOPPED",
    "Cancelled": "CANCELLED",
}


def _elapsed(seconds: float) -> str:
    if seconds < 60:
        return f"+{seconds:.3f}s"
    minutes, sec = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    text = f"{days}d" if days else ""
    return f"+{text}{hours:02d}:{minutes:02d}:{sec:02d}"


#: A history timestamp: a ``datetime`` (boto3) or epoch seconds.
Timestamp = _dt.datetime | float


def _timestamp(value: Timestamp) -> float:
    if isinstance(value, _dt.datetime):
        return value.timestamp()
    return float(value)


def _short(text: object, limit: int = 60) -> str:
    value = str(text)
    return value if len(value) <= limit else value[: limit - 3] + "..."


def describe_event(event: Mapping[str, Any], start: Timestamp, *, indent: int = 0) -> str:
    """One timeline line for a history event (``start`` is the execution's start timestamp; ``indent``: how
    deeply the operation is nested in child contexts)."""
    kind = str(event.get("EventType", "?"))
    when = _elapsed(_timestamp(event.get("EventTimestamp", start)) - _timestamp(start))
    details = event.get(f"{kind}Details") or {}
    if kind == "InvocationCompleted":
        label, extra = "", _crash_text(details)
    else:
        label = event.get("Name") or (event.get("Id") or "")[:12]
        extra = _outcome_text(details) + _retry_text(details)
    kind = "  " * indent + kind
    return f"{when:>14}  #{event.get('EventId', '?'):<4} {kind:<24} {label:<28} {extra}".rstrip()


def _outcome_text(details: Mapping[str, Any]) -> str:
    """An operation event's error, result or duration, shortened."""
    error, result = details.get("Error"), details.get("Result")
    if isinstance(error, Mapping):
        payload = error.get("Payload") or {}
        return f"{payload.get('ErrorType', '')}: {_short(payload.get('ErrorMessage', ''))}"
    if isinstance(result, Mapping):
        return "-> " + _short(result.get("Payload", ""))
    if "Duration" in details:
        return f"{details['Duration']} s"
    return ""


def _retry_text(details: Mapping[str, Any]) -> str:
    retry = details.get("RetryDetails") or {}
    if retry.get("NextAttemptDelaySeconds") is None:
        return ""
    return f" (attempt {retry.get('CurrentAttempt')}, retry in {retry['NextAttemptDelaySeconds']} s)"


def _crash_text(details: Mapping[str, Any]) -> str:
    """What an ``InvocationCompleted`` event says of an invocation that crashed."""
    error = (details.get("Error") or {}).get("Payload") or {}
    return f"crashed: {error.get('ErrorType')}" if error else ""


def ending(kind: str) -> str | None:
    """``"ok"``/``"FAILED"``/... when an event ends an operation, else ``None``."""
    for suffix, word in _ENDINGS.items():
        if kind.endswith(suffix):
            return word
    return None


def all_events(service: LocalDurableService, arn: str) -> list[dict[str, Any]]:
    """Every history event of ``arn`` (following ``NextMarker``), timestamps as epoch seconds."""
    events: list[dict[str, Any]] = []
    marker: str | None = None
    while True:
        page = service.history(arn, marker=marker, timestamp=epoch_seconds)
        events.extend(page["Events"])
        marker = page.get("NextMarker")
        if not marker:
            return events


class Server(Protocol):
    """What :func:`serve_until_interrupted` runs: the local HTTP server, the console's server."""

    def serve_forever(self) -> None: ...

    def close(self) -> None: ...


def serve_until_interrupted(server: Server) -> None:
    """Serve in this thread until Ctrl-C, then close the server (``serve`` and ``console``)."""
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("\nstopped", file=sys.stderr)
    finally:
        server.close()
