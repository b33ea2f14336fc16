"""Replay-aware, structured logging for workflows and steps.

``ctx.logger`` drops records while the code that logs is being replayed (it ran, and logged, in an earlier
invocation), so each line appears once however often the workflow is re-invoked; ``log_replay=True`` on
``@durable`` keeps them. Every record carries ``executionArn`` and, inside a step, ``operationId``,
``operationName`` and ``attempt`` as ``extra`` fields. Records go to a stdlib logger (``replayflow.workflow``
by default) or to any logger with the same ``info(msg, *args, extra=...)`` methods, such as
aws-lambda-powertools' ``Logger``. :class:`JsonFormatter` renders them as one JSON object per line.
"""

from __future__ import annotations

import datetime as _dt
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from ._interpreter import Scope

__all__ = ["DurableLogger", "JsonFormatter"]

DEFAULT_LOGGER = logging.getLogger("replayflow.workflow")

_METHODS = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warning",
    logging.ERROR: "error",
    logging.CRITICAL: "critical",
}


class DurableLogger:
    """A logger that adds the execution's fields and stays quiet while replaying."""

    __slots__ = ("_extra", "_log_replay", "_scope", "_target")

    def __init__(
        self,
        target: Any,
        extra: Mapping[str, object],
        scope: Scope | None = None,
        *,
        log_replay: bool = False,
    ) -> None:
        self._target = target
        self._extra = dict(extra)
        self._scope = scope
        self._log_replay = log_replay

    @property
    def target(self) -> Any:
        """The underlying logger."""
        return self._target

    def bind(self, **fields: object) -> DurableLogger:
        """A logger with more ``extra`` fields."""
        return DurableLogger(self._target, {**self._extra, **fields}, self._scope, log_replay=self._log_replay)

    def scoped(self, scope: Scope, log_replay: bool, **fields: object) -> DurableLogger:
        """A logger that is quiet while ``scope`` replays (unless ``log_replay``)."""
        return DurableLogger(self._target, {**self._extra, **fields}, scope, log_replay=log_replay)

    @property
    def replaying(self) -> bool:
        """Whether records are being dropped right now."""
        return self._scope is not None and self._scope.replaying and not self._log_replay

    def _log(self, level: int, msg: object, args: tuple[object, ...], kwargs: dict[str, Any]) -> None:
        if self._scope is not None and self._scope.replaying and not self._log_replay:
            return
        extra = kwargs.pop("extra", None)
        kwargs["extra"] = {**self._extra, **extra} if extra else dict(self._extra)
        target = self._target
        if isinstance(target, logging.Logger):
            if target.isEnabledFor(level):
                kwargs.setdefault("stacklevel", 3)
                target.log(level, msg, *args, **kwargs)
            return
        method = getattr(target, _METHODS.get(level, "info"), None) or target.info
        kwargs.setdefault("stacklevel", 4)  # powertools-style loggers: point at the workflow's line
        try:
            method(msg, *args, **kwargs)
        except TypeError:
            kwargs.pop("stacklevel")
            method(msg, *args, **kwargs)

    def debug(self, msg: object, *args: object, **kwargs: Any) -> None:
        self._log(logging.DEBUG, msg, args, kwargs)

    def info(self, msg: object, *args: object, **kwargs: Any) -> None:
        self._log(logging.INFO, msg, args, kwargs)

    def warning(self, msg: object, *args: object, **kwargs: Any) -> None:
        self._log(logging.WARNING, msg, args, kwargs)

    def error(self, msg: object, *args: object, **kwargs: Any) -> None:
        self._log(logging.ERROR, msg, args, kwargs)

    def exception(self, msg: object, *args: object, **kwargs: Any) -> None:
        kwargs.setdefault("exc_info", True)
        self._log(logging.ERROR, msg, args, kwargs)

    def critical(self, msg: object, *args: object, **kwargs: Any) -> None:
        self._log(logging.CRITICAL, msg, args, kwargs)

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        self._log(level, msg, args, kwargs)


_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``timestamp``, ``level``, ``message``, ``logger`` and every extra field."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "timestamp": _dt.datetime.fromtimestamp(record.created, _dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(data, default=str).decode()
