"""Testing durable workflows: fake histories, dry replay, recorded-history replay, local runs, log capture.

* :class:`History` describes a checkpoint history in a few readable lines; :func:`replay` drives the real
  interpreter over it with no service (microseconds, no threads, no I/O) and reports what the workflow does
  next, how it ended, or where it departed from the history.
* :func:`load_history` reads histories recorded by AWS or by ``replayflow history --json``; replay the
  current code against them to catch non-determinism before deploying (``replayflow replay`` does it from
  the command line).
* :func:`capture_logs` collects what ``ctx.logger`` and step loggers record.
"""

from __future__ import annotations

from ._history import DEFAULT_ARN as DEFAULT_ARN
from ._history import EPOCH as EPOCH
from ._history import UNSET as UNSET
from ._history import BatchBlock as BatchBlock
from ._history import ContextBlock as ContextBlock
from ._history import History as History
from ._logs import LogCapture as LogCapture
from ._logs import capture_logs as capture_logs
from ._next import NextOperation as NextOperation
from ._recorded import HistoryFormatError as HistoryFormatError
from ._recorded import RecordedHistory as RecordedHistory
from ._recorded import load_history as load_history
from ._replay import Outcome as Outcome
from ._replay import ReplayReport as ReplayReport
from ._replay import WaitingOperation as WaitingOperation
from ._replay import replay as replay

__all__ = [
    "DEFAULT_ARN",
    "EPOCH",
    "UNSET",
    "BatchBlock",
    "ContextBlock",
    "History",
    "HistoryFormatError",
    "LogCapture",
    "NextOperation",
    "Outcome",
    "RecordedHistory",
    "ReplayReport",
    "WaitingOperation",
    "capture_logs",
    "load_history",
    "replay",
]
