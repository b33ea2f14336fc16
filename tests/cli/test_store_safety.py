"""Stores across processes, as a shell uses them: kill and resume, read while writing, two writers."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .test_cli import ROOT, replayflow

WORKFLOW = "tests.cli.workflows:gated"


def events_in(store: Path) -> list[dict]:
    """The stored events, read with sqlite3 itself (read-only)."""
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
        return [json.loads(body) for (body,) in db.execute("SELECT body FROM events ORDER BY arn, event_id")]


def wait_for(predicate, what: str, process: subprocess.Popen | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"{what}: the process ended: {process.stderr.read() if process.stderr else ''}")
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def log_lines(directory: Path) -> list[str]:
    log = directory / "log.txt"
    return log.read_text().splitlines() if log.exists() else []


@pytest.mark.slow
def test_kill_resume_read_while_writing_and_a_second_writer(tmp_path: Path) -> None:
    store = tmp_path / "runs.db"
    job = json.dumps({"dir": str(tmp_path)})
    command = [sys.executable, "-m", "replayflow", "run", WORKFLOW, "--input", job, "--store", str(store)]
    first = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert first.stderr is not None
        announced = first.stderr.readline().split()
        assert announced[0] == "execution", announced  # the ARN is printed without a terminal too
        arn = announced[1]
        wait_for(lambda: "b-start" in log_lines(tmp_path), "step b never started", first)

        # a second writer is refused with one clear line
        second = replayflow("run", WORKFLOW, "--input", job, "--store", str(store))
        assert second.returncode == 2
        assert second.stderr.count("\n") == 1 and "in use by another process" in second.stderr, second.stderr
        assert "Traceback" not in second.stderr

        # reading while the writer runs: consistent, and nothing is written
        before = events_in(store)
        shown = replayflow("history", arn, "--store", str(store))
        assert shown.returncode == 0, shown.stderr
        assert "StepSucceeded" in shown.stdout and "crashed" not in shown.stdout
        listed = replayflow("list", "--store", str(store))
        assert listed.returncode == 0 and "RUNNING" in listed.stdout and "gated" in listed.stdout
        assert events_in(store) == before
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)

    # reading after the writer died records no crash: the store is as the dead process left it
    before = events_in(store)
    assert replayflow("history", arn, "--store", str(store)).returncode == 0
    assert replayflow("history", arn, "--store", str(store), "--json").returncode == 0
    assert events_in(store) == before

    # the same command again resumes that execution (function + input), past the steps already done
    (tmp_path / "go").write_text("go")
    again = replayflow(*command[3:])
    assert again.returncode == 0, again.stderr
    assert again.stderr.splitlines()[0] == f"resuming {arn}"
    assert json.loads(again.stdout) == ["a", "b-done", "c"]
    # a completed step never ran twice; b was killed mid-body, so it ran again (at-least-once)
    assert log_lines(tmp_path) == ["a", "b-start", "b-start", "b-done", "c"]
    events = events_in(store)
    kinds = [e["EventType"] for e in events]
    assert kinds.count("StepSucceeded") == 3 and kinds.count("StepStarted") == 3
    assert kinds.count("ExecutionStarted") == 1 and kinds.count("ExecutionSucceeded") == 1
    crashes = [e for e in events if "Error" in e.get("InvocationCompletedDetails", {})]
    assert len(crashes) == 1  # the one real crash (the kill), and no invented one

    listed = replayflow("list", "--store", str(store), "--json")
    (row,) = json.loads(listed.stdout)
    assert (row["arn"], row["status"], row["operations"]) == (arn, "SUCCEEDED", 3)
    shown = replayflow("history", arn, "--store", str(store))
    assert "usage: 3 operations" in shown.stdout

    # a finished execution is not resumed: the same command runs a new one
    fresh = replayflow(*command[3:])
    assert fresh.returncode == 0 and fresh.stderr.splitlines()[0].startswith("execution ")
    assert fresh.stderr.splitlines()[0] != f"execution {arn}"


def test_cli_errors_are_one_line_and_exit_2(tmp_path: Path) -> None:
    store = tmp_path / "runs.db"
    job = json.dumps({"dir": str(tmp_path)})
    (tmp_path / "go").write_text("go")
    named = replayflow("run", WORKFLOW, "--input", job, "--store", str(store), "--name", "nightly")
    assert named.returncode == 0, named.stderr
    arn = named.stderr.splitlines()[0].split()[1]
    same = replayflow("run", WORKFLOW, "--input", job, "--store", str(store), "--name", "nightly")
    assert same.returncode == 0 and same.stderr.splitlines()[0] == f"resuming {arn}"  # AWS: same name + input
    clash = replayflow("run", WORKFLOW, "--input", "{}", "--store", str(store), "--name", "nightly")
    (corrupt := tmp_path / "corrupt.db").write_bytes(b"not a database at all" * 100)
    with sqlite3.connect(foreign := tmp_path / "foreign.db") as db:
        db.execute("CREATE TABLE invoices (id INTEGER)")
    db.close()
    foreign_bytes = foreign.read_bytes()
    cases = [
        clash,
        replayflow("run", WORKFLOW, "--input", job, "--store", str(tmp_path / "no" / "such" / "dir.db")),
        replayflow("run", WORKFLOW, "--input", job, "--store", str(tmp_path)),  # a directory
        replayflow("run", WORKFLOW, "--input", job, "--store", str(corrupt)),
        replayflow("run", WORKFLOW, "--input", job, "--store", str(foreign)),  # someone else's database
        replayflow("history", arn, "--store", str(corrupt)),
        replayflow("history", arn, "--store", str(tmp_path / "missing.db")),
        replayflow("history", arn + "x", "--store", str(store)),
        replayflow("list", "--store", str(corrupt)),
        replayflow("list", "--store", str(tmp_path / "missing.db")),
    ]
    for out in cases:
        assert out.returncode == 2, (out.args, out.stderr)
        assert out.stderr.count("\n") == 1 and out.stderr.startswith("replayflow "), out.stderr
        assert "Traceback" not in out.stderr
    assert "DurableExecutionAlreadyStartedException" in clash.stderr
    assert not (tmp_path / "missing.db").exists()  # reading never creates a store
    assert corrupt.read_bytes() == b"not a database at all" * 100
    assert foreign.read_bytes() == foreign_bytes  # untouched


#: ``python -m replayflow`` with SIGINT doing what it does in a terminal. A shell starts its background jobs
#: with SIGINT ignored and their children inherit that; Python then installs no KeyboardInterrupt handler,
#: and a SIGINT is ignored (a suite started with ``&`` or ``nohup`` hung in the test below).
INTERRUPTIBLE = (
    "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "sys.argv[0] = 'replayflow'; runpy.run_module('replayflow', run_name='__main__')"
)


def test_an_interrupted_run_prints_a_hint_a_shell_can_run(tmp_path: Path) -> None:
    store = tmp_path / "runs.db"
    job = json.dumps({"dir": str(tmp_path)})
    command = [sys.executable, "-c", INTERRUPTIBLE, "run", WORKFLOW, "--input", job, "--store", str(store)]
    first = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: "b-start" in log_lines(tmp_path), "step b never started", first)
        first.send_signal(signal.SIGINT)
        _, err = first.communicate(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 130, err
    hint = err.strip().splitlines()[-1]
    assert "'arn:aws:lambda:" in hint and "$LATEST" in hint  # quoted: a shell keeps $LATEST
    shown = subprocess.run(
        hint.split("or see ", 1)[1],
        shell=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
    )
    assert shown.returncode == 0, shown.stderr
    assert "StepSucceeded" in shown.stdout


@pytest.mark.slow
def test_a_store_served_by_one_process_is_refused_to_another_and_readable(tmp_path: Path) -> None:
    from .test_cli import free_port

    store = tmp_path / "served.db"
    served = subprocess.Popen(
        [sys.executable, "-m", "replayflow", "serve", WORKFLOW, "--port", str(free_port()), "--store", str(store)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert served.stdout is not None
        assert "serving the local durable service" in served.stdout.readline()
        refused = replayflow("run", WORKFLOW, "--input", "{}", "--store", str(store))
        assert refused.returncode == 2 and f"pid {served.pid}" in refused.stderr, refused.stderr
        listed = replayflow("list", "--store", str(store))
        assert listed.returncode == 0 and listed.stdout.startswith("no executions"), listed.stderr
    finally:
        served.terminate()
        served.wait(timeout=10)
    # once the server is gone the store is free again
    (tmp_path / "go").write_text("go")
    job = json.dumps({"dir": str(tmp_path)})
    assert replayflow("run", WORKFLOW, "--input", job, "--store", str(store)).returncode == 0


@pytest.mark.slow
def test_every_read_during_writes_is_a_consistent_snapshot(tmp_path: Path) -> None:
    from replayflow.local import LocalDurableService

    store = tmp_path / "busy.db"
    command = [sys.executable, "-m", "replayflow", "run", "tests.cli.workflows:ticking", "--input", "400"]
    writer = subprocess.Popen([*command, "--store", str(store)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    snapshots = 0
    seen_steps = set()
    try:
        wait_for(store.exists, "the store was never created", writer)
        while writer.poll() is None or snapshots == 0:
            try:
                service = LocalDurableService(store=str(store), read_only=True)
            except Exception as exc:  # the schema may not be written yet
                assert "not a replayflow store" in str(exc), exc
                continue
            with service:
                for view in service.executions():
                    events = service.get_durable_execution_history(DurableExecutionArn=view.arn, MaxItems=1000)
                    kinds = [e["EventType"] for e in events["Events"]]
                    assert [e["EventId"] for e in events["Events"]] == list(range(1, len(kinds) + 1))
                    started, succeeded = kinds.count("StepStarted"), kinds.count("StepSucceeded")
                    # meta, operations and events come from one transaction: they always agree
                    assert service.usage(view.arn).operations == started
                    assert started - 1 <= succeeded <= started
                    seen_steps.add(succeeded)
            snapshots += 1
    finally:
        if writer.poll() is None:
            writer.kill()
        writer.wait(timeout=10)
    assert writer.returncode == 0
    assert snapshots > 1 and len(seen_steps) > 1  # it really read while the writer went on
