"""Testing durable workflows: fake histories, dry replay, recorded-history replay, local runs, log capture.

* :class:`History` describes a checkpoint history in a few readable lines; :func:`replay` drives the real
  interpreter over it with no service (microseconds, no threads, no I/O) and reports what the workflow does
  next, how it ended, or where it departed from the history.
* :func:`load_history` reads histories recorded by AWS or by ``replayflow history --json``; replay the
  current code against them to catch non-determinism before deploying (``replayflow replay`` does it from
  the command line).
* :func:`run` runs a workflow to its end on the local durable service in virtual time (answering callbacks
  from the test with :func:`succeed` / :func:`fail` at chosen times); :func:`start` drives one step by step.
* :func:`capture_logs` collects what ``ctx.logger`` and step loggers record.
"""

from __future__ import annotations

from replayflow import _unyielded

from ._history import DEFAULT_ARN as DEFAULT_ARN
from ._history import EPOCH as EPOCH
from ._history import UNSET as UNSET
from ._history import BatchBlock as BatchBlock
from ._history import ContextBlock as ContextBlock
from ._history import ErrorLike as ErrorLike
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
from ._result import Attempt as Attempt
from ._result import OperationView as OperationView
from ._result import RunResult as RunResult
from ._run import CallbackAction as CallbackAction
from ._run import LocalExecution as LocalExecution
from ._run import fail as fail
from ._run import heartbeat as heartbeat
from ._run import run as run
from ._run import start as start
from ._run import succeed as succeed
from ._run import time_out as time_out

_unyielded.toolkit_default()  # a forgotten ``yield`` is an error in tests, a logged warning in production

__all__ = [
    "DEFAULT_ARN",
    "EPOCH",
    "UNSET",
    "Attempt",
    "BatchBlock",
    "CallbackAction",
    "ContextBlock",
    "ErrorLike",
    "History",
    "HistoryFormatError",
    "LocalExecution",
    "LogCapture",
    "NextOperation",
    "OperationView",
    "Outcome",
    "RecordedHistory",
    "ReplayReport",
    "RunResult",
    "WaitingOperation",
    "capture_logs",
    "fail",
    "heartbeat",
    "load_history",
    "replay",
    "run",
    "start",
    "succeed",
    "time_out",
]
