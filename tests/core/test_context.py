"""``ctx`` (``replayflow/_context.py``): what its methods accept."""

from __future__ import annotations

import pytest

import replayflow

from .wire import event, invoke


@pytest.mark.parametrize(
    "make",
    [
        lambda ctx: ctx.invoke("", 1),
        lambda ctx: ctx.invoke("f", 1, tenant_id=5),
        lambda ctx: ctx.create_callback(timeout=0.5),
        lambda ctx: ctx.create_callback(heartbeat_timeout=-1),
        lambda ctx: ctx.wait_for_callback("not callable"),
        lambda ctx: ctx.run_in_child_context(42),
        lambda ctx: ctx.run_in_child_context(lambda c: 1, sub_type="has spaces"),
        lambda ctx: ctx.wait_for_condition(42, wait_strategy=replayflow.WaitStrategy()),
    ],
)
def test_bad_arguments_raise_validation_errors(make):
    @replayflow.durable
    def wf(_, ctx):
        yield make(ctx)

    out = invoke(wf, event())
    assert out["Error"]["ErrorType"] == "replayflow.ValidationError"
