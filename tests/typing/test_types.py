"""The generator API is typed: mypy --strict infers operation results from `yield from`."""

from __future__ import annotations

from pathlib import Path

from mypy import api


def test_yield_from_gives_each_operation_its_result_type():
    target = Path(__file__).with_name("typed_workflow.py")
    stdout, stderr, status = api.run(
        ["--strict", "--no-error-summary", "--cache-dir", "/tmp/replayflow-mypy", str(target)]
    )
    assert status == 0, stdout + stderr


def test_a_wrong_expectation_is_reported(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from typing import assert_type\nimport replayflow\n\n"
        "def count(x: list[int]) -> int:\n    return len(x)\n\n"
        "def wf(i: None, ctx: replayflow.DurableContext):  # type: ignore[no-untyped-def]\n"
        "    n = yield from ctx.step(count, [1])\n    assert_type(n, str)\n"
    )
    stdout, _, status = api.run(["--strict", "--cache-dir", "/tmp/replayflow-mypy", str(bad)])
    assert status == 1
    assert 'Expression is of type "int", not "str"' in stdout


def test_a_users_strict_mypy_over_their_own_project_reports_nothing_inside_replayflow(tmp_path):
    """The user's project has no mypy config of ours: botocore's missing hints must not surface."""
    import os
    import subprocess
    import sys

    (tmp_path / "orders.py").write_text(
        "import replayflow\n\n"
        "def fetch(order_id: str) -> dict[str, int]:\n    return {'id': 1}\n\n"
        "@replayflow.durable\n"
        "def wf(order: dict[str, str], ctx: replayflow.DurableContext) -> replayflow.Workflow[int]:\n"
        "    fetched = yield ctx.step(fetch, order['id'], name='fetch')\n"
        "    return int(fetched['id'])\n"
    )
    clone = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", "/tmp/replayflow-mypy-user", "orders.py"],
        cwd=tmp_path,
        env={**os.environ, "MYPYPATH": str(clone)},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout + out.stderr
