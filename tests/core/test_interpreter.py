"""``replayflow._interpreter``: replayed results, non-determinism, what a workflow may yield, injected policies."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import gc
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import replayflow
from replayflow import NonDeterminismError, StepError
from replayflow._checkpoint import Checkpointer
from replayflow._errors import TokenRevoked
from replayflow._gc_pause import FREEZE_AT, YOUNG_FACTOR, GcPause, holders
from replayflow._handler import find_execution, index_operations
from replayflow._interpreter import Frame, Park
from replayflow._wire import OperationUpdateDict
from replayflow.testing._dry_run import RecordingTransport

from .wire import ARN, LambdaContext, Recorder, event, invoke, op, op_id, step


def body_must_not_run(*args: Any) -> Any:
    raise AssertionError("a replayed step body ran")


def test_succeeded_steps_replay_their_results_without_running():
    @replayflow.durable
    def wf(order, ctx):
        a = yield ctx.step(body_must_not_run, order["id"], name="reserve")
        b = yield from ctx.step(body_must_not_run, a, name="charge")
        return {"a": a, "b": b}

    rec = Recorder()
    out = invoke(
        wf, event(step(1, name="reserve", result={"r": 1}), step(2, name="charge", result=[1, 2]), input={"id": 7}), rec
    )
    assert out == {"Status": "SUCCEEDED", "Result": '{"a":{"r":1},"b":[1,2]}'}
    assert rec.checkpoints == []  # nothing new to record


def test_failed_step_replays_the_recorded_error_identically():
    seen = []

    def fails():
        raise KeyError("missing")

    @replayflow.durable
    def wf(_, ctx):
        try:
            yield ctx.step(fails, retry=replayflow.RetryPresets.none())
        except StepError as e:
            seen.append((type(e), e.error_type, e.error_message, e.operation_name, bool(e.stack_trace)))
        return "handled"

    first = Recorder()
    assert invoke(wf, event(), first)["Result"] == '"handled"'
    fail = first.updates[-1]
    assert (fail["Action"], fail["Error"]["ErrorType"]) == ("FAIL", "KeyError")
    recorded = step(1, "FAILED", name="fails", error=fail["Error"])
    assert invoke(wf, event(recorded))["Result"] == '"handled"'
    assert seen[0] == seen[1] == (StepError, "KeyError", "'missing'", "fails", True)


def test_step_returns_the_deserialized_result_even_on_first_run():
    class Upper:
        def serialize(self, value, context):
            return value.upper()

        def deserialize(self, data, context):
            return data

    @replayflow.durable
    def wf(text, ctx):
        return (yield ctx.step(lambda: text, serdes=Upper()))

    rec = Recorder()
    assert invoke(wf, event(input="hello world"), rec)["Result"] == '"HELLO WORLD"'
    assert rec.updates[-1]["Payload"] == "HELLO WORLD"


@dataclasses.dataclass
class Shipment:
    tracking: str
    shipped_at: dt.datetime
    items: list[str]


def ship(order_id: str) -> Shipment:
    return Shipment(f"T-{order_id}", dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC), ["a", "b"])


def test_typed_results_come_back_as_the_annotated_type_on_first_run_and_replay():
    got: list[Any] = []

    @replayflow.durable
    def wf(order_id, ctx):
        shipment = yield from ctx.step(ship, order_id)
        got.append(shipment)
        return shipment.tracking

    rec = Recorder()
    assert invoke(wf, event(input="o1"), rec)["Result"] == '"T-o1"'
    payload = rec.updates[-1]["Payload"]
    assert orjson.loads(payload) == {"tracking": "T-o1", "shipped_at": "2026-01-02T03:04:05+00:00", "items": ["a", "b"]}
    assert invoke(wf, event(step(1, name="ship", raw=payload), input="o1"))["Result"] == '"T-o1"'
    assert got[0] == got[1] == ship("o1")


def test_result_type_can_be_given_explicitly():
    @replayflow.durable
    def wf(_, ctx):
        s = yield ctx.step(
            lambda: {"tracking": "x", "shipped_at": "2026-01-01T00:00:00Z", "items": []}, result_type=Shipment
        )
        return type(s).__name__

    assert invoke(wf, event())["Result"] == '"Shipment"'


@pytest.mark.parametrize(
    ("recorded", "expected"),
    [
        (op(1, "WAIT", "SUCCEEDED", name="reserve"), "WAIT/Wait named 'reserve'"),
        (step(1, name="other"), "STEP/Step named 'other'"),
        (step(1, name="reserve", sub_type="WaitForCondition"), "STEP/WaitForCondition named 'reserve'"),
        (step(1, name="reserve", parent=op_id(9), id=op_id(1)), "under parent"),
    ],
)
def test_a_changed_operation_fails_with_non_determinism_naming_both_sides(recorded, expected):
    @replayflow.durable
    def wf(_, ctx):
        yield ctx.step(body_must_not_run, name="reserve")

    out = invoke(wf, event(recorded))
    assert out["Status"] == "FAILED"
    assert out["Error"]["ErrorType"] == "replayflow.NonDeterminismError"
    message = out["Error"]["ErrorMessage"]
    assert "operation #1 of the workflow" in message
    assert op_id(1) in message
    assert expected in message
    assert "STEP/Step named 'reserve'" in message  # what the code does now
    assert "test_interpreter.py" in message  # where the code yielded it


def test_non_determinism_cannot_be_caught_by_the_workflow():
    @replayflow.durable
    def wf(_, ctx):
        try:
            yield ctx.step(body_must_not_run, name="a")
        except Exception:
            return "swallowed"

    out = invoke(wf, event(op(1, "WAIT", "SUCCEEDED")))
    assert out["Status"] == "FAILED"
    assert "NonDeterminismError" in out["Error"]["ErrorType"]


def test_non_determinism_can_fail_the_invocation_instead_of_the_execution():
    def wf(_, ctx):
        yield ctx.step(body_must_not_run, name="reserve")

    rec = Recorder()
    with pytest.raises(NonDeterminismError, match="named 'other'") as raised:
        invoke(replayflow.durable(on_non_determinism="retry")(wf), event(step(1, name="other")), rec)
    assert raised.value.operation_id == op_id(1)
    assert rec.checkpoints == []  # nothing recorded: the service retries the invocation, the execution lives on
    assert invoke(replayflow.durable(wf), event(step(1, name="other")))["Status"] == "FAILED"  # the default
    with pytest.raises(replayflow.ValidationError, match='"fail" or "retry"'):
        replayflow.durable(on_non_determinism="ignore")(wf)  # type: ignore[arg-type]


def test_code_that_ends_before_the_recorded_history_is_non_deterministic():
    @replayflow.durable
    def wf(_, ctx):
        yield ctx.step(body_must_not_run, name="a")
        return "done early"

    out = invoke(wf, event(step(1, name="a"), step(2, name="b")))
    assert out["Status"] == "FAILED"
    assert "returned after 1 operation(s)" in out["Error"]["ErrorMessage"]
    assert "STEP/Step named 'b'" in out["Error"]["ErrorMessage"]


def test_the_error_type_is_public():
    with pytest.raises(NonDeterminismError):
        raise NonDeterminismError("x")
    assert replayflow.NonDeterminismError.__module__ == "replayflow"


def test_a_workflow_that_never_yields_works():
    @replayflow.durable
    def wf(x, ctx):
        return x * 2

    assert invoke(wf, event(input=21)) == {"Status": "SUCCEEDED", "Result": "42"}


def test_a_workflow_that_raises_fails_with_the_error():
    @replayflow.durable
    def wf(x, ctx):
        yield ctx.wait(seconds=1)
        raise ValueError("bad input")

    out = invoke(wf, event(op(1, "WAIT", "SUCCEEDED")))
    assert out["Status"] == "FAILED"
    assert out["Error"]["ErrorType"] == "ValueError"
    assert out["Error"]["ErrorMessage"] == "bad input"
    assert any("raise ValueError" in line for line in out["Error"]["StackTrace"])


def test_yielding_something_that_is_not_an_operation_raises_type_error_in_the_workflow():
    @replayflow.durable
    def wf(_, ctx):
        try:
            yield 42
        except TypeError as e:
            return str(e)

    assert "must yield operations built by ctx" in invoke(wf, event())["Result"]


def test_the_undecorated_workflow_stays_reachable():
    def wf(_, ctx):
        return 1

    handler = replayflow.durable(wf)
    assert handler.workflow is wf
    assert handler.__name__ == "wf"


def test_is_replaying_flips_when_the_code_passes_the_last_recorded_operation():
    seen = []

    @replayflow.durable
    def wf(_, ctx):
        seen.append(("start", ctx.is_replaying()))
        yield ctx.step(body_must_not_run, name="a")
        seen.append(("after a", ctx.is_replaying()))
        yield ctx.wait(seconds=5, name="w")
        seen.append(("after w", ctx.is_replaying()))
        yield ctx.step(lambda: 1, name="b")

    invoke(wf, event(step(1, name="a"), op(2, "WAIT", "SUCCEEDED", name="w")))
    assert seen == [("start", True), ("after a", True), ("after w", False)]


# -- the side-effect policy (what the testing toolkit's dry runs inject) ------------------------------------


class _Policy:
    """A side-effect policy that allows the actions in ``allowed`` and records what it is asked."""

    def __init__(self, *allowed: str) -> None:
        self.allowed = set(allowed)
        self.asked: list[tuple[str, int]] = []
        self.stopped_at: list[tuple[str, str, int, str | None]] = []

    def allows(self, op_id: str, action: str, attempt: int) -> bool:
        self.asked.append((action, attempt))
        return action in self.allowed

    def stopped(self, op: Any, park: Park, frame: Frame) -> None:
        self.stopped_at.append((park.op_id, park.action, park.attempt, op.name))


def _drive_with(policy: Any, wf: Any, *ops: dict[str, Any]) -> tuple[tuple[str, Any], RecordingTransport]:
    evt = event(*ops)
    records = index_operations(evt["InitialExecutionState"]["Operations"])
    sent = RecordingTransport()
    it = wf.interpreter(records, ARN, Checkpointer(sent, ARN, "t", records), side_effects=policy)
    outcome = wf.run_workflow(it, find_execution(ARN, records))
    it.checkpointer.flush()  # as the handler does before it returns
    return outcome, sent


def test_a_policy_that_declines_new_work_stops_the_frame_there_and_no_body_runs():
    @replayflow.durable
    def wf(_, ctx):
        first = yield ctx.step(body_must_not_run, name="one")
        yield ctx.step(body_must_not_run, first, name="two")
        raise AssertionError("the frame went on past declined work")

    policy = _Policy()
    (status, _), sent = _drive_with(policy, wf, step(1, name="one", result=1))
    assert status == "PENDING"
    assert policy.asked == [("start", 1)]
    assert policy.stopped_at == [(op_id(2), "start", 1, "two")]
    assert sent.updates == []


def test_a_policy_can_let_operations_start_but_decline_their_side_effects():
    @replayflow.durable
    def wf(_, ctx):
        yield ctx.step(body_must_not_run, name="one")
        raise AssertionError("the frame went on past a declined attempt")

    policy = _Policy("start")
    (status, _), _ = _drive_with(policy, wf)
    assert status == "PENDING"
    assert policy.asked == [("start", 1), ("attempt", 1)]
    assert policy.stopped_at == [(op_id(1), "attempt", 1, "one")]


def test_a_policy_that_allows_everything_runs_the_workflow_and_checkpoints_through_the_transport():
    @replayflow.durable
    def wf(_, ctx):
        a = yield ctx.step(lambda: 1, name="one")
        b = yield ctx.step(lambda: a + 1, name="two")
        return a + b

    policy = _Policy("start", "attempt")
    (status, value), sent = _drive_with(policy, wf)
    assert (status, value) == ("SUCCEEDED", 3)
    assert policy.asked == [("start", 1), ("attempt", 1)] * 2
    assert policy.stopped_at == []
    actions = [(u["Action"], u.get("Name")) for u in sent.updates]
    assert actions == [("START", "one"), ("SUCCEED", "one"), ("START", "two"), ("SUCCEED", "two")]


# -- the recording transport ------------------------------------------------------------------------------


def test_the_recording_transport_keeps_every_update_in_order_and_the_token_stays_valid():
    sent = RecordingTransport()
    records: dict[str, Any] = {}
    checkpointer = Checkpointer(sent, ARN, "t", records)
    updates: list[OperationUpdateDict] = [
        {"Id": f"op-{i}", "Type": "STEP", "Action": "START", "Payload": "x" * 1000} for i in range(600)
    ]
    for update in updates:
        checkpointer.add(update)
    checkpointer.flush()
    assert sent.updates == updates  # in several batches (the service's limit is 250 updates), in order
    assert checkpointer.token == "t" and checkpointer.calls >= 3 and records == {}
    with pytest.raises(TokenRevoked, match="cannot read more state pages"):
        checkpointer.load_pages("marker")


# -- the garbage collector's pause ------------------------------------------------------------------------


@pytest.fixture
def pause() -> Iterator[Callable[[], GcPause]]:
    """Makes pauses and ends them all after the test: one that fails half-way must not leave the collector
    paused, its thresholds raised or objects frozen for the rest of the suite."""
    made: list[GcPause] = []

    def make() -> GcPause:
        made.append(GcPause())
        return made[-1]

    yield make
    for each in made:
        each.end()


def test_the_collector_is_back_on_when_the_last_of_several_pauses_is_released(pause):
    assert gc.isenabled()
    first, second = pause(), pause()
    assert not gc.isenabled() and holders() == 2
    first.release()
    first.release()  # a second release gives nothing back twice
    assert not gc.isenabled() and holders() == 1
    second.release()
    assert gc.isenabled() and holders() == 0
    first.end()  # the invocations return
    second.end()
    assert gc.isenabled() and holders() == 0 and gc.get_freeze_count() == 0


def test_a_pause_leaves_a_collector_the_application_turned_off_alone(pause):
    gc.disable()
    try:
        off = pause()
        off.release()
        assert not gc.isenabled() and holders() == 0
        off.end()
        assert not gc.isenabled() and gc.get_freeze_count() == 0
    finally:
        gc.enable()


def test_what_lives_on_is_frozen_while_invocations_run_new_work_and_unfrozen_when_the_last_one_ends(pause):
    callbacks, threshold = list(gc.callbacks), gc.get_threshold()
    gc.collect()
    first, second = pause(), pause()
    # what a long replay builds (well over the mark: objects freed meanwhile, on any thread, lower the count)
    replayed = [[] for _ in range(2 * FREEZE_AT)]
    first.release()
    assert gc.get_freeze_count() == 0  # the second one still replays: the collector stays off
    second.release()
    assert gc.isenabled() and gc.get_freeze_count() > len(replayed)  # what replay built is never rescanned
    first.end()
    first.end()  # a second end gives nothing back twice
    assert gc.get_freeze_count() > 0  # the second invocation still runs
    gc.collect()  # a full collection during an invocation: its survivors are frozen too
    assert gc.get_objects(2) == []
    second.end()
    assert gc.isenabled() and gc.get_freeze_count() == 0 and holders() == 0
    assert gc.callbacks == callbacks and gc.get_threshold() == threshold


def test_an_invocation_leaves_the_collector_as_it_found_it():
    during: list[tuple[int, tuple[int, int, int]]] = []

    @replayflow.durable
    def wf(_, ctx):
        yield ctx.step(body_must_not_run, name="one")
        yield ctx.step(lambda: during.append((gc.get_freeze_count(), gc.get_threshold())), name="two")  # new work
        return "done"

    callbacks, threshold = list(gc.callbacks), gc.get_threshold()
    assert invoke(wf, event(step(1, name="one", result=1)))["Status"] == "SUCCEEDED"
    [(frozen, young)] = during
    assert young == (threshold[0] * YOUNG_FACTOR, *threshold[1:])  # rarer young collections
    assert frozen == 0  # a short replay's objects are left to the collector (see the test below)
    assert gc.isenabled() and gc.get_freeze_count() == 0 and holders() == 0
    assert gc.callbacks == callbacks and gc.get_threshold() == threshold


def _fresh_process(script: str) -> dict[str, int]:
    """Run ``script`` in a fresh interpreter from the repository root; what it printed, as JSON."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120, check=True
    )
    return orjson.loads(done.stdout)  # type: ignore[no-any-return]


_WARM_PROCESS = """
import gc, json, replayflow
from tests.core.wire import event, invoke, step

@replayflow.durable
def wf(_, ctx):
    first = yield ctx.step(abs, -1, name="one")
    return (yield ctx.step(abs, first, name="two"))  # new work

evt = event(step(1, name="one", result=1))
full = [0]
gc.callbacks.append(lambda phase, info: full.__setitem__(0, full[0] + (phase == "stop" and info["generation"] == 2)))
gc.collect()
before = len(gc.get_objects())
for _ in range(10_000):
    assert invoke(wf, evt)["Status"] == "SUCCEEDED"
print(json.dumps({"full": full[0], "left": len(gc.get_objects()) - before}))
"""


def test_a_warm_process_serving_many_invocations_keeps_its_cyclic_garbage_bounded():
    """10,000 invocations in a fresh process, each replaying a step and running a new one, as a warm Lambda
    process serves them. Cyclic garbage made along the way (here the test transport's; the interpreter's
    own, before commit e19bb11) must be collected. Freezing every invocation's young objects at its new work
    took them past the collector's accounting: no full collection came, and the garbage piled up (about
    230,000 objects here; 1.15 million and 225 MB after 50,000 invocations). Now full collections come as
    usual, and what is left is bounded."""
    counts = _fresh_process(_WARM_PROCESS)
    assert counts["full"] >= 1, counts
    assert counts["left"] < 60_000, counts


def test_pauses_leave_what_the_application_froze_alone(pause):
    kept = [[]]  # one of the application's objects
    gc.freeze()
    try:
        held = pause()
        held.release()
        gc.collect()
        held.end()
        assert gc.isenabled() and gc.get_freeze_count() > 0
        assert not any(o is kept for o in gc.get_objects())  # still frozen: the pauses never unfroze it
    finally:
        gc.unfreeze()


def test_an_invocation_reaching_new_work_does_not_turn_the_collector_on_under_one_still_replaying():
    a_replaying, b_replaying, a_new_work = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    @replayflow.durable
    def first(_, ctx):
        yield ctx.step(body_must_not_run, name="one")
        a_replaying.set()
        assert b_replaying.wait(30)
        yield ctx.step(lambda: 2, name="two")  # new work: this invocation gives its pause back
        seen["first at new work"] = gc.isenabled()
        a_new_work.set()

    @replayflow.durable
    def second(_, ctx):
        yield ctx.step(body_must_not_run, name="one")
        b_replaying.set()
        assert a_new_work.wait(30)
        seen["second still replaying"] = gc.isenabled()
        yield ctx.step(lambda: 2, name="two")
        seen["second at new work"] = gc.isenabled()

    outputs: list[dict[str, Any]] = []
    history = event(step(1, name="one", result=1))
    thread_a = threading.Thread(target=lambda: outputs.append(invoke(first, history)))
    thread_b = threading.Thread(target=lambda: outputs.append(invoke(second, history)))
    thread_a.start()
    assert a_replaying.wait(30)
    thread_b.start()
    thread_a.join(30)
    thread_b.join(30)
    assert [o["Status"] for o in outputs] == ["SUCCEEDED", "SUCCEEDED"]
    assert seen == {"first at new work": False, "second still replaying": False, "second at new work": True}
    assert gc.isenabled() and holders() == 0


# -- the replay fast path (``_drive`` resolves a SUCCEEDED default-serdes step without ``Step.run``) ---------


class _Events(replayflow.Plugin):
    def __init__(self) -> None:
        self.seen: list[tuple[Any, ...]] = []

    def on_operation_start(self, op: Any) -> None:
        self.seen.append(("start", op.operation_id, op.name))

    def on_operation_end(self, op: Any, status: str, error: BaseException | None) -> None:
        self.seen.append(("end", op.operation_id, status, type(error).__name__))


def _typed() -> dict[str, int]:
    return {"k": 0}


@dataclasses.dataclass
class _Point:
    k: int


def _point() -> _Point:
    raise AssertionError("a replayed step body ran")


def _without(record: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != key}


_FAST_PATH_HISTORIES = {
    "plain results": [step(1, name="a", result=1), step(2, name="b", result=[1, {"x": None}]), step(3, name="c")],
    "a dict result": [step(1, name="a", result={"k": 1}), step(2, name="b", result="text")],
    "an envelope-like dict": [step(1, name="a", result={"t": "x", "v": 1}), step(2, name="b", result=2)],
    "a long number": [step(1, name="a", raw="12345678901234567890123"), step(2, name="b", result=2)],
    "a failed step": [step(1, name="a", result=1), step(2, "FAILED", name="b", error={"ErrorType": "E"})],
    "a pending retry": [step(1, name="a", result=1), step(2, "PENDING", name="b", attempt=1)],
    "a renamed step": [step(1, name="a", result=1), step(2, name="renamed", result=2)],
    "a changed type": [step(1, name="a", result=1), op(2, "WAIT", "SUCCEEDED", name="b")],
    "a changed sub type": [step(1, name="a", result=1), step(2, name="b", sub_type="WaitForCondition")],
    "a changed parent": [step(1, name="a", result=1), step(2, name="b", parent=op_id(9), id=op_id(2))],
    "unreadable json": [step(1, name="a", result=1), step(2, name="b", raw="{nope")],
    "malformed details": [step(1, name="a", result=1), op(2, "STEP", "SUCCEEDED", name="b", StepDetails=["x"])],
    "no record": [step(1, name="a", result=1)],
    "no sub type": [step(1, name="a", result=1), _without(step(2, name="b", result=2), "SubType")],
    "no details": [step(1, name="a", result=1), _without(step(2, name="b", result=2), "StepDetails")],
    "null details": [step(1, name="a", result=1), {**step(2, name="b"), "StepDetails": None}],
    "a null parent": [step(1, name="a", result=1), {**step(2, name="b", result=2), "ParentId": None}],
    "a non-string status": [step(1, name="a", result=1), {**step(2, name="b", result=2), "Status": 7}],
    "a non-string type": [step(1, name="a", result=1), {**step(2, name="b", result=2), "Type": ["STEP"]}],
}


def _fast_path_workflow(events: _Events) -> Any:
    @replayflow.durable(plugins=[events])
    def wf(_, ctx):
        out = []
        for name in ("a", "b", "c"):
            try:
                out.append((yield ctx.step(lambda: "new", name=name)))
            except StepError as e:
                out.append(e.error_type)
        out.append((yield ctx.step(_typed)))
        return out

    return wf


@pytest.mark.parametrize("history", list(_FAST_PATH_HISTORIES), ids=list(_FAST_PATH_HISTORIES))
def test_the_replay_fast_path_gives_what_step_run_gives(history, monkeypatch):
    """Outputs, hooks and checkpoints are the same with ``_drive``'s fast path as with ``Step.run`` alone."""
    from replayflow import _interpreter

    def outcome() -> tuple[Any, ...]:
        events, rec = _Events(), Recorder()
        try:
            out: Any = invoke(_fast_path_workflow(events), event(*_FAST_PATH_HISTORIES[history]), rec)
        except replayflow.InvalidEventError as error:  # a malformed record ends the invocation
            out = {"raised": str(error)}
        out.get("Error", {}).pop("StackTrace", None)  # the frames differ: Step.run is one of them or not
        return out, events.seen, rec.updates

    fast = outcome()
    monkeypatch.setattr(_interpreter, "_DefaultSerdesStep", None)  # no class is None: every step takes Step.run
    assert outcome() == fast


_MISSING = object()
_JUNK = [_MISSING, None, 7, "", ["x"]]
#: for each field of step 2's record, what else it may hold (right for another operation, malformed, missing)
_ALTERNATIVES: dict[str, list[Any]] = {
    "Type": ["WAIT", *_JUNK],
    "Status": ["FAILED", "STARTED", "PENDING", *_JUNK],
    "SubType": ["Wait", *_JUNK],
    "Name": ["renamed", *_JUNK],
    "ParentId": [op_id(9), *_JUNK],
    "StepDetails": [{"Attempt": 1}, {"Attempt": 1, "Result": None}, *_JUNK],
    "Result": ['"text"', "[1, 2]", '{"k": 1}', '{"t": "x", "v": 1}', "{nope", "1" * 40, "1" * 80, 5, *_JUNK],
}


@st.composite
def _second_record(draw: Any) -> dict[str, Any]:
    """Step 2's record, right but for one or two fields (each another value, malformed or missing)."""
    record = step(2, name="b", result=2)
    for field in draw(st.lists(st.sampled_from(sorted(_ALTERNATIVES)), min_size=1, max_size=2, unique=True)):
        value = draw(st.sampled_from(_ALTERNATIVES[field]))
        target = record["StepDetails"] if field == "Result" and isinstance(record.get("StepDetails"), dict) else record
        target.pop(field, None)
        if value is not _MISSING:
            target[field] = value
    return record


@settings(max_examples=300, deadline=None)
@given(second=_second_record())
def test_the_replay_fast_path_agrees_with_step_run_on_any_record(second):
    """Property: whatever step 2's record holds, the fast path gives what ``Step.run`` alone gives."""
    from replayflow import _interpreter

    history = [step(1, name="a", result=1), second, step(3, name="c", result=3)]

    def outcome() -> tuple[Any, ...]:
        events, rec = _Events(), Recorder()
        try:
            out: Any = invoke(_fast_path_workflow(events), event(*history), rec)
        except (replayflow.InvalidEventError, NonDeterminismError) as error:
            out = {"raised": f"{type(error).__name__}: {error}"}
        out.get("Error", {}).pop("StackTrace", None)
        return out, events.seen, rec.updates

    fast = outcome()
    with pytest.MonkeyPatch.context() as patch:  # (a fixture would be shared by hypothesis's examples)
        patch.setattr(_interpreter, "_DefaultSerdesStep", None)  # every step takes Step.run
        slow = outcome()
    assert slow == fast


def test_a_succeeded_plain_json_step_replays_without_step_run_and_anything_else_takes_it(monkeypatch):
    """Counted work: ``Step.run`` is called only for the steps the fast path leaves to it."""
    from replayflow._ops.step import Step

    ran: list[str | None] = []
    run = Step.run

    def counting(self: Any, it: Any, frame: Any) -> Any:
        ran.append(self.name)
        return run(self, it, frame)

    monkeypatch.setattr(Step, "run", counting)

    @replayflow.durable
    def wf(_, ctx):
        out = []
        for i in range(4):
            out.append((yield ctx.step(body_must_not_run, name=f"s{i}")))
        with contextlib.suppress(StepError):
            yield ctx.step(body_must_not_run, name="failed")
        out.append((yield ctx.step(_point, name="typed")).k)
        out.append((yield ctx.step(lambda: "new", name="new")))
        return out

    history = [
        step(1, name="s0", result=0),
        step(2, name="s1", result={"k": [1]}),
        step(3, name="s2"),
        step(4, name="s3", result={"t": "x"}),  # may be an envelope: decode() reads it
        step(5, "FAILED", name="failed", error={"ErrorType": "E"}),
        step(6, name="typed", result={"k": 2}),  # a typed serdes: structured into _Point
    ]
    out = invoke(wf, event(*history))
    assert out == {"Status": "SUCCEEDED", "Result": '[0,{"k":[1]},null,{"t":"x"},2,"new"]'}, out
    assert ran == ["s3", "failed", "typed", "new"]


def _item(c, x, index, items):
    if x == "nap":  # a branch that suspends
        yield c.wait(seconds=5, name="nap")
    return (yield c.step(abs, x, name="abs"))


def _fails():
    raise ValueError("no")


def _finishes(ctx):
    first = yield ctx.step(body_must_not_run, name="one")
    mapped = yield ctx.map([1, -2, 3], _item, name="items")
    with contextlib.suppress(StepError):
        yield ctx.step(_fails, name="fails", retry=replayflow.RetryPresets.none())
    child = yield ctx.run_in_child_context(lambda c: _item(c, -5, 0, None), name="child")
    return first + sum(mapped.get_results()) + child


def _inner_map(c):
    return (yield c.map([1, "nap", 2], _item, name="inner"))  # a batch in a batch: three levels of frames


def _suspends_in_nested_batches(ctx):
    yield ctx.step(body_must_not_run, name="one")
    yield ctx.parallel([_inner_map, lambda c: _item(c, "nap", 0, None)], name="outer")


def _suspends_everywhere(ctx):
    yield ctx.step(body_must_not_run, name="one")
    yield ctx.step(_fails, name="retried")  # a retry delay
    yield ctx.wait_for_callback(lambda callback_id: None, name="approval")


def _suspends_in_a_finally(ctx):
    yield ctx.step(body_must_not_run, name="one")
    try:
        yield ctx.wait(seconds=5, name="nap")
    finally:
        yield ctx.step(abs, -1, name="cleanup")  # a yield while closed: Python refuses it, the frame goes


_WORKFLOWS = {
    "finishes": (_finishes, "SUCCEEDED"),
    "suspends in nested batches": (_suspends_in_nested_batches, "PENDING"),
    "suspends on a retry and a callback": (_suspends_everywhere, "PENDING"),
    "suspends in a try-finally": (_suspends_in_a_finally, "PENDING"),
}


@pytest.mark.parametrize("context", [None, LambdaContext()], ids=["no context", "Lambda context"])
@pytest.mark.parametrize("workflow", list(_WORKFLOWS))
def test_an_invocation_frees_its_interpreter_without_the_cyclic_collector(monkeypatch, context, workflow):
    """When the handler returns, its interpreter, checkpointer, frames and contexts are freed by reference
    counting alone: a warm process's collector has nothing of the SDK's to find, and nothing keeps them.
    Before: the checkpointer's update hook (a bound method of the interpreter) kept the two in a cycle; a
    cancelled deadline alarm held the interpreter until the alarms' heap dropped it, some 64 invocations
    later; and a suspended frame's generator held its ``ctx``, which held the interpreter, which held the
    frame (a cycle in every invocation that suspends)."""
    import weakref

    made: list[weakref.ref[Any]] = []
    interpreter = replayflow.DurableHandler.interpreter

    def recording(self: Any, *args: Any, **kwargs: Any) -> Any:
        it = interpreter(self, *args, **kwargs)
        made.append(weakref.ref(it))
        return it

    monkeypatch.setattr(replayflow.DurableHandler, "interpreter", recording)
    body, status = _WORKFLOWS[workflow]
    wf = replayflow.durable(lambda _, ctx: body(ctx))
    gc.collect()
    gc.disable()  # (only reference counting frees anything now)
    try:
        out = invoke(wf, event(step(1, name="one", result=1)), context=context)
        assert out["Status"] == status and out.get("Result", "12") == "12", out
        assert made and all(ref() is None for ref in made), "the interpreter outlived its invocation"
    finally:
        gc.enable()


def test_a_suspended_workflow_is_closed_when_the_invocation_ends_as_the_readme_says():
    # its finally blocks run then (GeneratorExit at the yield), and a durable operation yielded there never runs
    ran: list[str] = []

    @replayflow.durable
    def wf(_, ctx):
        try:
            yield ctx.wait(seconds=5, name="nap")
            ran.append("after the wait")
        finally:
            ran.append("finally")
            yield ctx.step(body_must_not_run, name="cleanup")  # refused: a closed generator cannot yield

    recorder = Recorder()
    assert invoke(wf, event(), recorder)["Status"] == "PENDING"
    assert ran == ["finally"]
    assert recorder.actions() == [("WAIT", "START", "nap")]  # nothing from the finally block


_SUSPENDING_PROCESS = """
import gc, json, replayflow
from tests.core.wire import LambdaContext, event, step

class Service:  # a transport that makes no cycle of its own: what the collector finds is the SDK's
    def checkpoint_durable_execution(self, request):
        return {"CheckpointToken": request["CheckpointToken"] + "+", "NewExecutionState": {"Operations": []}}

    def get_durable_execution_state(self, request):
        return {"Operations": []}

def item(c, x, index, items):
    if x % 2:
        yield c.wait(seconds=5, name="nap")  # half the branches suspend
    return (yield c.step(abs, x, name="abs"))

@replayflow.durable(transport=Service())
def wf(_, ctx):
    first = yield ctx.step(abs, -1, name="one")
    yield ctx.map(list(range(10)), item, name="items")
    return first

evt = event(step(1, name="one", result=1))
found = [0]
gc.callbacks.append(lambda phase, info: found.__setitem__(0, found[0] + info["collected"] * (phase == "stop")))
gc.collect()
found[0] = 0
for _ in range(2_000):
    assert wf(evt, LambdaContext())["Status"] == "PENDING"
gc.collect()
print(json.dumps({"found": found[0]}))
"""


def test_a_warm_process_serving_suspending_invocations_makes_no_cyclic_garbage():
    """2,000 invocations in a fresh process, each suspending in a map with a Lambda context, as a warm
    process serves them: the collector finds nothing of theirs (before Interpreter.end, each left its
    suspended frames, contexts and interpreter in a cycle: 220,683 objects found here, and the
    generators' finally blocks ran whenever a collection came, maybe in another invocation)."""
    counts = _fresh_process(_SUSPENDING_PROCESS)
    assert counts["found"] < 100, counts  # 0 here
