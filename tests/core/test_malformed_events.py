"""Malformed invocation events and state pages: always InvalidEventError naming the field, never a crash or hang."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import replayflow
from replayflow import InvalidEventError, ServiceError

from .wire import Recorder, event, execution, invoke, op, op_id, step

UNTYPED = {"AttributeError", "TypeError", "KeyError", "RecursionError", "IndexError", "ValueError"}


def one() -> int:
    return 1


def two() -> int:
    return 2


@replayflow.durable
def workflow(order: Any, ctx: replayflow.DurableContext) -> Any:
    a = yield ctx.step(one, name="a")
    yield ctx.wait(seconds=5, name="w")
    b = yield ctx.step(two, name="b")
    return [a, b]


def replayable() -> dict[str, Any]:
    return event(
        step(1, name="a", result=1), op(2, "WAIT", "SUCCEEDED", name="w"), step(3, name="b", result=2), input={"x": 1}
    )


def with_execution(**details: Any) -> dict[str, Any]:
    evt = event()
    evt["InitialExecutionState"]["Operations"][0] = {**execution(), **details}
    return evt


@pytest.mark.parametrize(
    ("evt", "field"),
    [
        (with_execution(ExecutionDetails="{}"), "ExecutionDetails must be an object, got str"),
        (with_execution(ExecutionDetails=[1]), "ExecutionDetails must be an object, got list"),
        (with_execution(ExecutionDetails={"InputPayload": 7}), "ExecutionDetails.InputPayload must be a str, got int"),
        (with_execution(ExecutionDetails={"InputPayload": {"a": 1}}), "InputPayload must be a str, got dict"),
        (event(op(1, "STEP", "SUCCEEDED", name="a", StepDetails="done")), "StepDetails must be an object, got str"),
        (event(step(1, "STARTED", name="a", attempt="1")), "StepDetails.Attempt must be a int, got str"),
    ],
)
def test_malformed_records_name_the_field(evt, field):
    with pytest.raises(InvalidEventError, match=field):
        invoke(workflow, evt)


def test_an_operation_without_status_is_named_not_reported_as_a_missing_execution():
    """The record is checked when the operation reads it: the error names it and its field, and ends the
    invocation (the workflow never sees it)."""
    evt = replayable()
    wait_id = evt["InitialExecutionState"]["Operations"][2]["Id"]
    del evt["InitialExecutionState"]["Operations"][2]["Status"]
    with pytest.raises(InvalidEventError, match=rf"operation {wait_id} in the execution state: Status is missing"):
        invoke(workflow, evt)


@pytest.mark.parametrize("field", ["Type", "Status"])
@pytest.mark.parametrize("junk", [None, 7, ["SUCCEEDED"]])
def test_a_step_record_with_a_non_string_type_or_status_ends_the_invocation_naming_it(field, junk):
    evt = replayable()
    first = evt["InitialExecutionState"]["Operations"][1]
    first[field] = junk
    with pytest.raises(InvalidEventError, match=rf"operation {first['Id']} in the execution state: {field}"):
        invoke(workflow, evt)


@pytest.mark.parametrize(
    "payload",
    [
        "[" * 5000 + "1234567890123456789" + "]" * 5000,  # deep, with a long number: the stdlib parser
        '{"amount": NaN, "id": 1234567890123456789}',  # NaN is not JSON, long number or not
        '{"amount": NaN}',
    ],
)
def test_unreadable_input_fails_the_execution_with_invalid_event_error(payload):
    out = invoke(workflow, with_execution(ExecutionDetails={"InputPayload": payload}))
    assert out["Status"] == "FAILED"
    assert out["Error"]["ErrorType"] == "replayflow.InvalidEventError"
    assert "not valid JSON" in out["Error"]["ErrorMessage"] or "nested too deeply" in out["Error"]["ErrorMessage"]


def paged(pages: dict[str, Any]) -> tuple[dict[str, Any], Recorder]:
    recorder = Recorder()
    answer_checkpoint = recorder.handle

    def handle(operation: str, request: dict[str, Any]) -> Any:
        if operation == "GetDurableExecutionState":
            return copy.deepcopy(pages[request["Marker"]])
        return answer_checkpoint(operation, request)

    recorder.transport = replayflow.MockTransport(handle)
    return event(marker="m0"), recorder


@pytest.mark.parametrize(
    ("pages", "field"),
    [
        ({"m0": ["not", "a", "page"]}, "page at marker 'm0' is a list"),
        # a record is read when an operation claims it (as the event's own), then named by its id
        ({"m0": {"Operations": [{"Id": op_id(1), "Type": "STEP", "Name": "a"}]}}, rf"{op_id(1)} .*: Status is missing"),
        ({"m0": {"Operations": [{"Type": "STEP"}]}}, r"Operations\[0\] is not an operation: Id is missing"),
        ({"m0": {"Operations": [{"Id": 7, "Type": "STEP"}]}}, r"Operations\[0\] is not an operation: Id must be"),
        ({"m0": {"Operations": "oops"}}, "Operations must be a list"),
        ({"m0": {"Operations": [], "NextMarker": 5}}, "NextMarker must be a string"),
        (
            {"m0": {"Operations": [op(1, "STEP", "SUCCEEDED", name="a", StepDetails=["x"])]}},
            "StepDetails must be an object",
        ),
    ],
)
def test_malformed_state_pages_are_invalid_event_errors(pages, field):
    evt, recorder = paged(pages)
    with pytest.raises(InvalidEventError, match=field):
        invoke(workflow, evt, recorder)


def test_a_marker_cycle_is_a_service_error_not_a_hang():
    evt, recorder = paged({"m0": {"Operations": [], "NextMarker": "m1"}, "m1": {"Operations": [], "NextMarker": "m0"}})
    with pytest.raises(ServiceError, match="loop back to 'm0'"):
        invoke(workflow, evt, recorder)
    assert len(recorder.transport.requests) == 2


# -- the event shape, fuzzed ---------------------------------------------------------------------------------

JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=8),
    st.sampled_from(["{}", "[]", "NaN", '{"a": NaN, "b": 12345678901234567890}', "[" * 3000 + "]" * 3000]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.sampled_from(["Id", "Type", "Status", "Result", "InputPayload"]), st.text(max_size=4)),
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += paths(item, (*prefix, i))
    return found


def mutated(evt: dict[str, Any], path: tuple[Any, ...], junk: Any, delete: bool) -> dict[str, Any]:
    evt = copy.deepcopy(evt)
    target: Any = evt
    for key in path[:-1]:
        target = target[key]
    if delete and isinstance(target, dict):
        del target[path[-1]]
    else:
        target[path[-1]] = junk
    return evt


BASE = replayable()
PATHS = paths(BASE)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(PATHS), junk=JUNK, delete=st.booleans())
def test_any_malformed_event_gives_a_typed_error(path, junk, delete):
    evt = mutated(BASE, path, junk, delete)
    token = evt.get("CheckpointToken")
    try:
        out = invoke(workflow, evt, Recorder(token if isinstance(token, str) else "token-0"))
    except (InvalidEventError, ServiceError) as error:
        assert str(error)
        return
    assert out["Status"] in ("SUCCEEDED", "FAILED", "PENDING"), out
    if out["Status"] == "FAILED":
        assert out["Error"]["ErrorType"] not in UNTYPED, json.dumps(out)[:2000]
