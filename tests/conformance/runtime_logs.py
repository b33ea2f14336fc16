"""What the Lambda runtime does with a function's output: every log record and stdout line becomes a log event.

Lambda's Python runtime sends each record of the ``logging`` module (JSON log format, level INFO) and each
line a function prints to CloudWatch Logs. The conformance suite's log checks read those events back, so
the harness plays that part for the functions the local durable service runs:

* In the service's own process, :class:`OutputCapture` installs a root logging handler that renders records
  with :class:`replayflow.JsonFormatter` and replaces ``sys.stdout``; while an invocation runs, every line
  goes to the capture's sink (outside invocations, stdout passes through untouched).
* In a worker process of the service's subprocess invoker (the real-crash requirements),
  :func:`install_from_environment` does the same into the file named by ``$CONFORMANCE_LOG_SINK``, one
  unbuffered ``os.write`` per line, so that a line logged just before ``os._exit`` is not lost. It runs when
  ``tests.conformance`` is imported (the worker imports the handler from there).
"""

from __future__ import annotations

import io
import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import Any, TextIO

import replayflow

__all__ = ["SINK_ENV", "LineWriter", "OutputCapture", "install_from_environment"]

#: Environment variable naming the file a worker process appends its log lines to.
SINK_ENV = "CONFORMANCE_LOG_SINK"

Sink = Callable[[str], None]


class LineWriter(io.TextIOBase):
    """A text stream that hands every complete line to ``sink`` (or to ``fallback`` when there is no sink)."""

    def __init__(self, sink: Callable[[], Sink | None], fallback: TextIO | None) -> None:
        super().__init__()
        self._sink = sink
        self._fallback = fallback
        self._partial = ""
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        sink = self._sink()
        if sink is None:
            if self._fallback is not None:
                return self._fallback.write(text)
            return len(text)
        with self._lock:
            lines = (self._partial + text).split("\n")
            self._partial = lines.pop()
        for line in lines:
            sink(line)
        return len(text)

    def flush(self) -> None:
        with self._lock:
            partial, self._partial = self._partial, ""
        sink = self._sink()
        if partial and sink is not None:
            sink(partial)
        if sink is None and self._fallback is not None:
            self._fallback.flush()


class _RecordHandler(logging.Handler):
    """Renders each record as one JSON line (the runtime's JSON log format) for the current sink."""

    def __init__(self, sink: Callable[[], Sink | None]) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(replayflow.JsonFormatter())
        self._sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        sink = self._sink()
        if sink is None:
            return
        try:
            sink(self.format(record))
        except Exception:
            self.handleError(record)


class OutputCapture:
    """Routes log records and stdout lines to :attr:`sink` while it is set (one invocation at a time).

    Use as a context manager around the whole run; set :attr:`sink` around each invocation.
    """

    def __init__(self) -> None:
        self.sink: Sink | None = None
        self._handler = _RecordHandler(lambda: self.sink)
        self._saved_level = logging.NOTSET
        self._saved_stdout: TextIO | None = None

    def __enter__(self) -> OutputCapture:
        root = logging.getLogger()
        self._saved_level = root.level
        root.setLevel(logging.INFO)
        root.addHandler(self._handler)
        self._saved_stdout = sys.stdout
        sys.stdout = LineWriter(lambda: self.sink, self._saved_stdout)
        return self

    def __exit__(self, *exc: object) -> None:
        root = logging.getLogger()
        root.removeHandler(self._handler)
        root.setLevel(self._saved_level)
        if self._saved_stdout is not None:
            sys.stdout = self._saved_stdout


def _file_sink(path: str) -> Sink:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    lock = threading.Lock()

    def write(line: str) -> None:
        with lock:
            os.write(fd, (line.replace("\n", "\\n") + "\n").encode())

    return write


def install_from_environment(environ: Any = os.environ) -> bool:
    """In a worker process started by the harness, send this process's log output to ``$CONFORMANCE_LOG_SINK``."""
    path = environ.get(SINK_ENV)
    if not path:
        return False
    sink = _file_sink(path)
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    root.addHandler(_RecordHandler(lambda: sink))
    sys.stdout = LineWriter(lambda: sink, None)
    return True
