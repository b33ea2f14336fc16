"""``capture_logs()``: the records of ``ctx.logger`` and step loggers, as dicts (like structlog's)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

__all__ = ["LogCapture", "capture_logs"]

_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


class LogCapture(list[dict[str, Any]]):
    """The captured records, oldest first: ``{"message", "level", "logger", **extra fields}``.

    Workflow and step records carry ``executionArn``; step records add ``operationId``, ``operationName``
    and ``attempt``; records in child contexts add ``parentId``. A record logged with an exception has it
    under ``"exception"``.
    """

    @property
    def messages(self) -> list[str]:
        """Just the messages, in order."""
        return [entry["message"] for entry in self]

    def filter(self, **fields: object) -> list[dict[str, Any]]:
        """The entries whose fields equal ``fields`` (``capture.filter(operationName="charge", level="info")``)."""
        return [e for e in self if all(k in e and e[k] == v for k, v in fields.items())]


class _Handler(logging.Handler):
    def __init__(self, capture: LogCapture) -> None:
        super().__init__(logging.NOTSET)
        self.capture = capture

    def emit(self, record: logging.LogRecord) -> None:
        entry: dict[str, Any] = {
            "message": record.getMessage(),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info and record.exc_info[1] is not None:
            entry["exception"] = record.exc_info[1]
        self.capture.append(entry)


@contextlib.contextmanager
def capture_logs(
    logger: str | logging.Logger = "replayflow.workflow", *, level: int = logging.DEBUG
) -> Iterator[LogCapture]:
    """Capture what is logged on ``logger`` (default: the one ``ctx.logger`` writes to) at ``level`` or above.

    ::

        with capture_logs() as logs:
            replayflow.testing.run(workflow, {"id": 1})
        assert logs.filter(operationName="charge")[0]["attempt"] == 1

    The logger's level is lowered for the duration if needed; records still reach other handlers.
    """
    target = logging.getLogger(logger) if isinstance(logger, str) else logger
    capture = LogCapture()
    handler = _Handler(capture)
    handler.setLevel(level)
    previous = target.level
    if target.getEffectiveLevel() > level:
        target.setLevel(level)
    target.addHandler(handler)
    try:
        yield capture
    finally:
        target.removeHandler(handler)
        target.setLevel(previous)
