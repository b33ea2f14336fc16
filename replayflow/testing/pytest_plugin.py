"""The replayflow pytest plugin (registered by entry point; nothing to configure).

Fixtures:

* ``replayflow_history`` - makes :class:`~replayflow.testing.History` builders: ``h = replayflow_history(order)``.
* ``replayflow_replay`` - :func:`~replayflow.testing.replay`.
* ``replayflow_run`` - :func:`~replayflow.testing.run`: the workflow to its end on a local durable service.
* ``replayflow_start`` - :func:`~replayflow.testing.start`: an execution to drive step by step.
* ``replayflow_logs`` - the :class:`~replayflow.testing.LogCapture` of ``ctx.logger`` records made during the test.

A failing ``assert report.outcome == "completed"`` prints the whole replay report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ._history import History
from ._logs import LogCapture, capture_logs
from ._replay import Outcome, ReplayReport, replay
from ._result import RunResult
from ._run import LocalExecution, run, start

__all__ = [
    "pytest_assertrepr_compare",
    "replayflow_history",
    "replayflow_logs",
    "replayflow_replay",
    "replayflow_run",
    "replayflow_start",
]


@pytest.fixture
def replayflow_history() -> Callable[..., History]:
    """A factory of history builders: ``replayflow_history(input, ...)`` is ``History(input, ...)``."""
    return History


@pytest.fixture
def replayflow_replay() -> Callable[..., ReplayReport]:
    """``replay(workflow, history)``: the workflow over a history, with no service."""
    return replay


@pytest.fixture
def replayflow_run() -> Callable[..., RunResult]:
    """``run(workflow, input, ...)``: the workflow to its end on a local durable service (virtual time)."""
    return run


@pytest.fixture
def replayflow_start() -> Iterator[Callable[..., LocalExecution]]:
    """``start(workflow, input, ...)``: an execution to drive step by step; closed after the test."""
    started: list[LocalExecution] = []

    def start_execution(*args: Any, **kwargs: Any) -> LocalExecution:
        execution = start(*args, **kwargs)
        started.append(execution)
        return execution

    yield start_execution
    for execution in started:
        execution.close()


@pytest.fixture
def replayflow_logs() -> Iterator[LogCapture]:
    """What ``ctx.logger`` and step loggers record during the test, as dicts."""
    with capture_logs() as logs:
        yield logs


def pytest_assertrepr_compare(config: pytest.Config, op: str, left: object, right: object) -> list[str] | None:
    """Explain a failed comparison of a replay outcome with the whole report."""
    outcome = left if isinstance(left, Outcome) else right if isinstance(right, Outcome) else None
    if outcome is None or op not in ("==", "!=") or not hasattr(outcome, "report"):
        return None
    other = right if outcome is left else left
    return [f"replay outcome {str(outcome)!r} {op} {other!r}", "", *outcome.report.explain().splitlines()]
