"""``replayflow replay HISTORY... MODULE:WORKFLOW``: the report and the exit status."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from replayflow.cli import main
from replayflow.testing import History, run, start

ORIGINAL = """
import replayflow

def reserve(items):
    return {"held": items}

def ship(reservation):
    return "TRACK-1"

@replayflow.durable
def order_workflow(order, ctx):
    held = yield ctx.step(reserve, order["items"], name="reserve")
    yield ctx.wait(minutes=5, name="cool-off")
    return (yield ctx.step(ship, held, name="ship"))
"""

#: The change: an audit step inserted before the wait.
CHANGED = ORIGINAL.replace(
    '    yield ctx.wait(minutes=5, name="cool-off")',
    '    yield ctx.step(reserve, ["audit"], name="audit")\n    yield ctx.wait(minutes=5, name="cool-off")',
)

#: A compatible change: the step after the wait does something else, under the same name.
COMPATIBLE = ORIGINAL.replace('return "TRACK-1"', 'return "TRACK-2"')

#: An incompatible type change: `reserve` now returns a class the recorded JSON cannot become.
RETYPED = ORIGINAL.replace(
    'def reserve(items):\n    return {"held": items}',
    "import attrs\n\n@attrs.frozen\nclass Held:\n    count: int\n\n"
    "def reserve(items) -> Held:\n    return Held(len(items))",
)


@pytest.fixture
def modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest):
    """Writes workflow modules under unique names and makes them importable."""
    monkeypatch.syspath_prepend(str(tmp_path))
    prefix = f"cli_{request.node.name}".replace("[", "_").replace("]", "_").replace("-", "_")

    def write(name: str, source: str) -> str:
        module = f"{prefix}_{name}"
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
        return f"{module}:order_workflow"

    return write


def waiting_history(tmp_path: Path) -> Path:
    h = History({"id": 1, "items": ["A"]})
    h.step("reserve", result={"held": ["A"]})
    h.wait("cool-off", seconds=300, elapsed=False)
    path = tmp_path / "waiting.json"
    path.write_text(h.to_json())
    return path


def test_a_history_that_matches_the_code_replays_ok(modules, tmp_path, capsys):
    history = waiting_history(tmp_path)
    assert main(["replay", str(history), modules("original", ORIGINAL)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        f"{history}: 3 operations (operation records)",
        "  OK: the code follows the history; it is waiting on wait 'cool-off' (STARTED)",
    ]
    assert main(["replay", str(history), modules("compatible", COMPATIBLE)]) == 0


def test_a_changed_workflow_fails_with_the_operation_named(modules, tmp_path, capsys):
    history = waiting_history(tmp_path)
    assert main(["replay", str(history), modules("changed", CHANGED)]) == 1
    out = capsys.readouterr().out
    assert "NON-DETERMINISM: Non-deterministic execution: operation #2 of the workflow" in out
    recorded = "was recorded as WAIT/Wait named 'cool-off' [STARTED], but the code now yields STEP/Step named 'audit'"
    assert recorded in out
    assert "_changed.py:13" in out  # where the new yield is
    assert "in-flight executions with this history would FAIL" in out


def test_a_recorded_result_the_code_can_no_longer_read_is_incompatible(modules, tmp_path, capsys):
    history = waiting_history(tmp_path)
    assert main(["replay", str(history), modules("retyped", RETYPED)]) == 1
    out = capsys.readouterr().out
    assert "INCOMPATIBLE: cannot read the recorded result of step 'reserve'" in out


def test_directories_several_histories_and_json_output(modules, tmp_path, capsys):
    waiting_history(tmp_path)
    done = History({"id": 1, "items": ["A"]})
    done.step("reserve", result={"held": ["A"]})
    done.wait("cool-off", seconds=300)
    done.step("ship", result="TRACK-1")
    (tmp_path / "done.json").write_text(done.to_json())
    original = modules("original", ORIGINAL)
    assert main(["replay", str(tmp_path), original]) == 0
    out = capsys.readouterr().out
    assert "OK: the code follows the history; the workflow completes with 'TRACK-1'" in out
    assert out.rstrip().endswith(f"2 histories replayed against {original}: all match the code")

    assert main(["replay", "--json", str(tmp_path / "waiting.json"), modules("changed", CHANGED)]) == 1
    (line,) = capsys.readouterr().out.splitlines()
    data = json.loads(line)
    assert data["compatible"] is False and data["outcome"] == "non-determinism"
    assert data["error"]["name"] == "audit" and data["error"]["position"] == "operation #2 of the workflow"
    assert data["error"]["recorded"] == "WAIT/Wait named 'cool-off' [STARTED]"


def test_input_can_be_overridden(modules, tmp_path, capsys):
    h = History({"id": 1, "items": ["A"]})
    path = tmp_path / "empty.json"
    path.write_text(h.to_json())
    assert main(["replay", str(path), modules("original", ORIGINAL), "--input", '{"id": 2, "items": ["Z"]}']) == 0
    assert "next it would start step 'reserve': reserve(['Z'])" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.json", "{workflow}"], "cannot read the history file missing.json"),
        (["{history}", "no_such_module_xyz:wf"], "cannot load the workflow no_such_module_xyz:wf"),
        (["{history}", "no_colon"], "give the workflow as MODULE:WORKFLOW"),
        (["{history}", "{workflow}", "--input", "{nope"], "--input is not JSON"),
    ],
)
def test_what_cannot_be_loaded_exits_2(modules, tmp_path, capsys, args, message):
    values = {"history": str(waiting_history(tmp_path)), "workflow": modules("original", ORIGINAL)}
    assert main(["replay", *[a.format(**values) if a.startswith(("{h", "{w")) else a for a in args]]) == 2
    assert message in capsys.readouterr().err


def test_a_changed_workflow_fails_against_histories_recorded_from_the_original(modules, tmp_path, capsys):
    """The acceptance test: record histories by running the original on the local service, change the
    workflow, and `replayflow replay` must fail, naming the operation."""
    original = modules("v1", ORIGINAL)
    v1 = importlib.import_module(original.partition(":")[0])
    recorded = tmp_path / "recorded"
    recorded.mkdir()
    with start(v1.order_workflow, {"id": 1, "items": ["A"]}) as execution:  # in flight: at the 5-minute wait
        (recorded / "in-flight.json").write_text(execution.snapshot().to_json())
    finished = run(v1.order_workflow, {"id": 2, "items": ["B"]})
    assert finished.assert_succeeded() == "TRACK-1"
    (recorded / "finished.json").write_text(finished.to_json())

    assert main(["replay", str(recorded), original]) == 0
    out = capsys.readouterr().out
    assert "execution RUNNING" in out and "execution SUCCEEDED" in out
    assert "2 histories replayed against" in out and "all match the code" in out

    changed = modules("v2", CHANGED)
    assert main(["replay", str(recorded), changed]) == 1
    out = capsys.readouterr().out
    assert out.count("NON-DETERMINISM") == 2
    assert "recorded as WAIT/Wait named 'cool-off' [STARTED], but the code now yields STEP/Step named 'audit'" in out
    assert "recorded as WAIT/Wait named 'cool-off' [SUCCEEDED], but the code now yields STEP/Step named 'audit'" in out
    assert "2 no longer match the code" in out


def test_the_installed_command(modules, tmp_path):
    """`python -m replayflow replay` in a project directory: the workflow module is importable from there."""
    original = modules("cmd", ORIGINAL)
    v1 = importlib.import_module(original.partition(":")[0])
    with start(v1.order_workflow, {"id": 1, "items": ["A"]}) as execution:
        (tmp_path / "history.json").write_text(execution.snapshot().to_json())
    changed = modules("cmd_changed", CHANGED)
    ok = subprocess.run(
        [sys.executable, "-m", "replayflow", "replay", "history.json", original],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (ok.returncode, ok.stderr) == (0, "")
    assert "OK: the code follows the history; it is waiting on wait 'cool-off' (STARTED)" in ok.stdout
    broken = subprocess.run(
        [sys.executable, "-m", "replayflow", "replay", "history.json", changed],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert broken.returncode == 1
    assert "NON-DETERMINISM" in broken.stdout and "named 'audit'" in broken.stdout
