"""Operation names are checked against the service model at the call; ``name=""`` is no name."""

from __future__ import annotations

import pytest

import replayflow
from replayflow.testing import run

RAN: list[str] = []


@pytest.fixture(autouse=True)
def _reset():
    RAN.clear()


def charge(amount: int) -> int:
    RAN.append("charge")
    return amount


BAD_NAMES = ["café", "x" * 257, "line\nbreak", "tab\there", "\x7f"]


@pytest.mark.parametrize("bad", BAD_NAMES)
def test_a_step_name_the_service_would_refuse_is_a_validation_error_before_the_body_runs(bad):
    def workflow(_, ctx):
        try:
            yield ctx.step(charge, 5, name=bad)
        except replayflow.ValidationError as error:
            return str(error)
        return "ran"

    message = run(workflow).assert_succeeded()
    assert "printable ASCII" in message and "1 to 256" in message
    assert RAN == []


@pytest.mark.parametrize("bad", BAD_NAMES)
def test_other_operations_check_their_names_at_the_call(bad):
    def workflow(_, ctx):
        with pytest.raises(replayflow.ValidationError, match="printable ASCII"):
            ctx.wait(seconds=1, name=bad)
        with pytest.raises(replayflow.ValidationError, match="printable ASCII"):
            ctx.step(charge, 5, name=bad, retry=replayflow.RetryPresets.none())
        with pytest.raises(replayflow.ValidationError, match="printable ASCII"):
            ctx.run_in_child_context(lambda c: 1, name=bad)
        yield ctx.wait(seconds=1, name="x" * 256)  # the longest name the service takes
        return "checked"

    assert run(workflow).assert_succeeded() == "checked"


def test_a_bad_map_item_name_is_a_validation_error_not_a_refused_checkpoint():
    def workflow(_, ctx):
        result = yield ctx.map([1, 2], lambda c, item, i, items: item, item_namer=lambda item, i: f"item-é-{i}")
        return [item.status.value for item in result.all]

    run(workflow).assert_failed(replayflow.ValidationError, match="'item-é-0' contains 'é'")  # not ServiceError


def test_an_empty_name_is_left_out_as_the_official_sdk_does():
    def workflow(_, ctx):
        first = yield ctx.step(charge, 5, name="")
        yield ctx.wait(seconds=1, name="")
        return first

    result = run(workflow)
    assert result.assert_succeeded() == 5
    steps = [op for op in result.operations if op["Type"] in ("STEP", "WAIT")]
    assert [op.get("Name") for op in steps] == [None, None]
