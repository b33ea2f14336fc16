"""``async def`` workflows get a clear, typed error, not "cannot serialize coroutine"."""

from __future__ import annotations

import pytest

import replayflow
from replayflow.testing import run


async def async_workflow(order, ctx):
    return order


class AsyncCallable:
    async def __call__(self, order, ctx):
        return order


def test_decorating_an_async_workflow_is_a_validation_error():
    with pytest.raises(replayflow.ValidationError, match=r"async_workflow is an async function.*generator function"):
        replayflow.durable(async_workflow)
    with pytest.raises(replayflow.ValidationError, match="async function"):
        run(async_workflow, {})


def test_a_callable_that_returns_a_coroutine_fails_the_execution_with_the_same_error():
    error = run(AsyncCallable(), {"id": 1}).assert_failed(replayflow.ValidationError, match="async function")
    assert "coroutine" not in error["ErrorMessage"]


def test_an_async_child_context_is_a_validation_error_in_the_workflow():
    async def child(ctx):
        return 1

    def workflow(order, ctx):
        try:
            yield ctx.run_in_child_context(child, name="child")
        except replayflow.DurableExecutionError as error:
            return str(error)

    assert "is an async function" in run(workflow, {}).assert_succeeded()
