"""run(callbacks=...) with a name no callback has: a clear error, not a silent timeout."""

from __future__ import annotations

import pytest

import replayflow
from replayflow.testing import run, succeed


def approval_workflow(order, ctx):
    answer = yield ctx.wait_for_callback(lambda callback_id: None, name="approval", timeout=3600)
    return answer


def test_a_misspelled_callback_name_is_an_error_suggesting_the_real_one():
    with pytest.raises(replayflow.ValidationError, match=r"'aproval' \(did you mean 'approval'\?\)"):
        run(approval_workflow, {}, callbacks={"aproval": succeed("yes")})


def test_the_right_name_still_answers_the_callback():
    assert run(approval_workflow, {}, callbacks={"approval": succeed("yes")}).assert_succeeded() == "yes"


def test_a_planned_callback_the_workflow_never_reaches_is_not_an_error():
    def fails_first(order, ctx):
        yield ctx.step(lambda: 1 / 0, name="boom", retry=replayflow.RetryPresets.none())
        return (yield ctx.wait_for_callback(lambda callback_id: None, name="approval"))

    run(fails_first, {}, callbacks={"approval": succeed("yes")}).assert_failed("ZeroDivisionError")
