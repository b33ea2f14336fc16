"""The live timeline of replayflow run: nesting indented, batches folded; the execution timeout flag."""

from __future__ import annotations

import json
import subprocess
import sys

from replayflow.cli._common import shell_quote
from replayflow.cli._timeline import Timeline
from replayflow.testing import run

from . import workflows


def test_a_200_item_map_folds_into_progress_lines_and_nested_operations_are_indented():
    result = run(workflows.fan, None)
    assert result.assert_succeeded() == 198
    timeline = Timeline(result.events[0]["EventTimestamp"])
    lines = [line for event in result.events for line in timeline.lines(event)]
    assert len(result.events) > 800 and len(lines) < 30, "\n".join(lines)
    assert any(line.endswith("map 'fan': 200/200 done, 2 failed") for line in lines)
    assert any("map 'fan': 20/200 done" in line for line in lines)  # progress on the way
    (inner,) = [line for line in lines if "StepStarted" in line and "inner" in line]
    (outer,) = [line for line in lines if "ContextStarted" in line and "outer" in line]
    assert inner.index("StepStarted") == outer.index("ContextStarted") + 2  # one level deeper


def test_hints_quote_arns_for_the_shell():
    arn = "arn:aws:lambda:us-east-1:123456789012:function:orders:$LATEST/durable-execution/a/b"
    assert shell_quote(arn) == f"'{arn}'"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "replayflow", *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_a_24_hour_callback_needs_a_longer_execution_timeout(tmp_path):
    workflow = "tests.cli.workflows:long_callback"
    default = cli("run", workflow)
    assert default.returncode == 1 and "TIMED_OUT" in default.stderr  # the local default is 24 hours too
    assert "timed out after 86400 seconds" in default.stderr
    longer = cli("run", workflow, "--execution-timeout", str(2 * 24 * 3600))
    assert "Callback.Timeout" in longer.stderr and "TIMED_OUT" not in longer.stderr  # the callback's own timeout
    store = tmp_path / "runs.db"
    stored = cli("run", workflow, "--callback", "approval=yes", "--store", str(store))
    assert stored.returncode == 0 and json.loads(stored.stdout) == "yes"
    assert "history: replayflow history 'arn:" in stored.stderr and "$LATEST" in stored.stderr
