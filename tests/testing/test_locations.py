"""Under ``x = yield from ctx.step(...)`` (the typed form) reports point at the user's line."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

from replayflow.testing import History, replay, run
from tests.cli import workflows as cli_workflows


def _line(fn, text: str) -> str:
    lines, start = inspect.getsourcelines(fn)
    return f"{inspect.getsourcefile(fn)}:{start + next(i for i, line in enumerate(lines) if text in line)}"


def test_the_next_operation_of_a_yield_from_workflow_is_located_at_the_users_line():
    report = replay(cli_workflows.typed_v1, History({"id": "o-1"}))
    step = report.assert_next_step("fetch")
    assert step.location == _line(cli_workflows.typed_v1, "yield from ctx.step(fetch")


def test_non_determinism_under_yield_from_names_the_users_line():
    h = History({"id": "o-1"})
    h.step("fetch", result={"id": "o-1"})
    error = replay(cli_workflows.typed_v2, h).assert_non_determinism()
    where = _line(cli_workflows.typed_v2, "yield from ctx.step(fetch")
    assert error.location == where and where in str(error)
    assert "_ops/base.py" not in str(error)


def test_replayflow_replay_names_the_users_line(tmp_path: Path):
    history = tmp_path / "history.json"
    history.write_text(run(cli_workflows.typed_v1, {"id": "o-1"}).to_json())
    out = subprocess.run(
        [sys.executable, "-m", "replayflow", "replay", str(history), "tests.cli.workflows:typed_v2", "--json"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1, out.stdout + out.stderr
    (document,) = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    text = json.dumps(document)
    assert _line(cli_workflows.typed_v2, "yield from ctx.step(fetch") in text
    assert "_ops/base.py" not in text
