"""mypy sees the awaited type of an ``async def`` step body."""

from __future__ import annotations

from mypy import api

SOURCE = """
from typing import assert_type
import replayflow

async def price(sku: str) -> float:
    return 1.0

def wf(i: None, ctx: replayflow.DurableContext) -> replayflow.Workflow[float]:
    value = yield from ctx.step(price, "a")
    assert_type(value, float)
    return value
"""


def test_yield_from_an_async_step_is_typed_as_what_the_coroutine_returns(tmp_path):
    target = tmp_path / "typed_async.py"
    target.write_text(SOURCE)
    stdout, stderr, status = api.run(
        ["--strict", "--no-error-summary", "--cache-dir", "/tmp/replayflow-mypy", str(target)]
    )
    assert status == 0, stdout + stderr
    target.write_text(SOURCE.replace("assert_type(value, float)", "assert_type(value, str)"))
    stdout, _, status = api.run(["--strict", "--cache-dir", "/tmp/replayflow-mypy", str(target)])
    assert status == 1 and 'Expression is of type "float", not "str"' in stdout
