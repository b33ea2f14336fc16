"""``ctx.step`` (``replayflow/_ops/step.py``): checkpoints, retries through the service, semantics, the step
context, and what a failure looks like to the workflow (unserializable results, undecodable messages)."""

from __future__ import annotations

import inspect
import os
import threading
import time

import orjson
import pytest

import replayflow
from replayflow import RetryPresets, StepError, StepInterruptedError, StepSemantics
from replayflow.testing import run

from .alarms import ManualAlarms
from .wire import Recorder, event, invoke, op_id, step


class Flaky(Exception):
    pass


def test_start_and_succeed_travel_together_and_name_defaults_to_the_function():
    def reserve(items):
        return {"reserved": len(items)}

    @replayflow.durable(start_checkpoint_delay=30)  # (a body kept off the CPU for 0.1 s sends its START alone)
    def wf(order, ctx):
        return (yield ctx.step(reserve, order["items"]))

    rec = Recorder()
    out = invoke(wf, event(input={"items": [1, 2]}), rec)
    assert out == {"Status": "SUCCEEDED", "Result": '{"reserved":2}'}
    assert rec.checkpoints == [
        [
            {"Id": op_id(1), "Type": "STEP", "Action": "START", "SubType": "Step", "Name": "reserve"},
            {
                "Id": op_id(1),
                "Type": "STEP",
                "Action": "SUCCEED",
                "SubType": "Step",
                "Name": "reserve",
                "Payload": '{"reserved":2}',
            },
        ]
    ]


def test_finished_work_is_durable_before_the_next_step_body_runs():
    order_of_events = []
    rec = Recorder()

    def body(name):
        order_of_events.append((name, len(rec.checkpoints)))
        return name

    @replayflow.durable(start_checkpoint_delay=30)  # (as above: no START sent alone by a stalled body)
    def wf(_, ctx):
        yield ctx.step(body, "a")
        yield ctx.step(body, "b")
        yield ctx.step(body, "c")

    invoke(wf, event(), rec)
    # a runs before any call; b runs after a's result was checkpointed; c after b's
    assert order_of_events == [("a", 0), ("b", 1), ("c", 2)]
    assert len(rec.checkpoints) == 3
    assert [u["Action"] for u in rec.checkpoints[1]] == ["SUCCEED", "START"]


def test_lambdas_are_unnamed_and_explicit_names_win():
    @replayflow.durable
    def wf(_, ctx):
        yield ctx.step(lambda: 1)
        yield ctx.step(len, [1], name="explicit")

    rec = Recorder()
    invoke(wf, event(), rec)
    assert [u.get("Name") for u in rec.updates] == [None, None, "explicit", "explicit"]


def test_a_failure_with_retries_left_checkpoints_retry_and_suspends():
    def flaky():
        raise Flaky("try again")

    @replayflow.durable
    def wf(_, ctx):
        yield ctx.step(flaky, retry=RetryPresets.fixed(7, max_attempts=3))
        return "unreachable"

    rec = Recorder()
    assert invoke(wf, event(), rec) == {"Status": "PENDING"}
    retry = rec.updates[-1]
    assert retry["Action"] == "RETRY"
    assert retry["StepOptions"] == {"NextAttemptDelaySeconds": 7}
    assert retry["Error"]["ErrorType"] == "tests.core.test_step.Flaky"
    assert retry["Error"]["ErrorMessage"] == "try again"


def test_a_pending_retry_keeps_the_invocation_suspended():
    @replayflow.durable
    def wf(_, ctx):
        yield ctx.step(lambda: pytest.fail("must not run while the retry is pending"), name="s")

    rec = Recorder()
    assert invoke(wf, event(step(1, "PENDING", name="s", attempt=1)), rec) == {"Status": "PENDING"}
    assert rec.checkpoints == []


def test_ready_step_starts_the_next_attempt_with_the_attempt_number():
    attempts = []

    def body():
        attempts.append(replayflow.step_context().attempt)
        return "ok"

    @replayflow.durable
    def wf(_, ctx):
        return (yield ctx.step(body, name="s"))

    rec = Recorder()
    assert invoke(wf, event(step(1, "READY", name="s", attempt=2)), rec)["Result"] == '"ok"'
    assert attempts == [3]
    assert [u["Action"] for u in rec.updates] == ["START", "SUCCEED"]


def test_exhausted_retries_fail_the_step_with_the_original_error():
    def flaky():
        raise Flaky(f"attempt {replayflow.step_context().attempt}")

    @replayflow.durable
    def wf(_, ctx):
        try:
            yield ctx.step(flaky, retry=RetryPresets.fixed(1, max_attempts=3))
        except StepError as e:
            return [e.error_type, e.error_message]

    rec = Recorder()
    out = invoke(wf, event(step(1, "READY", name="flaky", attempt=2)), rec)
    assert out["Result"] == '["tests.core.test_step.Flaky","attempt 3"]'
    assert rec.updates[-1]["Action"] == "FAIL"


def test_retry_filters_decide_which_errors_are_retried():
    policy = replayflow.RetryPolicy(
        max_attempts=5, initial_delay=1, max_delay=1, retry_on=(Flaky,), retry_on_message=("throttl",)
    )
    assert policy(Flaky("x"), 1) == 1
    assert policy(ValueError("Throttled? no: throttling"), 1) == 1
    assert policy(ValueError("nope"), 1) is None
    assert policy(Flaky("x"), 5) is None


def test_at_least_once_step_found_started_runs_again_without_a_new_start():
    runs = []

    @replayflow.durable
    def wf(_, ctx):
        return (yield ctx.step(lambda: runs.append(1) or "done", name="s"))

    rec = Recorder()
    assert invoke(wf, event(step(1, "STARTED", name="s", attempt=0)), rec)["Result"] == '"done"'
    assert runs == [1]
    assert [u["Action"] for u in rec.updates] == ["SUCCEED"]


def test_at_most_once_step_found_started_is_not_run_again_and_goes_to_the_retry_strategy():
    seen = []

    def strategy(error, attempt):
        seen.append((type(error), attempt))
        return 2

    @replayflow.durable
    def wf(_, ctx):
        yield ctx.step(
            lambda: pytest.fail("must not run"),
            name="pay",
            semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY,
            retry=strategy,
        )

    rec = Recorder()
    assert invoke(wf, event(step(1, "STARTED", name="pay", attempt=0)), rec) == {"Status": "PENDING"}
    assert seen == [(StepInterruptedError, 1)]
    assert rec.updates[-1]["Action"] == "RETRY"
    assert rec.updates[-1]["Error"]["ErrorType"] == "replayflow.StepInterruptedError"


def test_at_most_once_without_retries_fails_the_interrupted_step():
    @replayflow.durable
    def wf(_, ctx):
        yield ctx.step(
            lambda: pytest.fail("must not run"),
            name="pay",
            semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY,
            retry=RetryPresets.none(),
        )

    out = invoke(wf, event(step(1, "STARTED", name="pay", attempt=0)))
    assert out["Status"] == "FAILED"
    assert out["Error"]["ErrorType"] == "replayflow.StepInterruptedError"


def test_at_most_once_start_is_confirmed_before_the_body_runs():
    rec = Recorder()
    seen = []

    def pay():
        seen.append([u["Action"] for u in rec.updates])
        return "paid"

    @replayflow.durable
    def wf(_, ctx):
        return (yield ctx.step(pay, semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY))

    invoke(wf, event(), rec)
    assert seen == [["START"]]
    assert len(rec.checkpoints) == 2


def test_the_step_context_describes_the_running_step():
    contexts = []

    def body():
        contexts.append(replayflow.step_context())
        return 1

    @replayflow.durable
    def wf(_, ctx):
        yield ctx.step(body, name="described")

    invoke(wf, event())
    (sc,) = contexts
    assert (sc.name, sc.attempt, sc.operation_id, sc.cancelled) == ("described", 1, op_id(1), False)
    assert sc.execution_arn.endswith("exec-1")
    with pytest.raises(RuntimeError, match="only available inside a running step"):
        replayflow.step_context()


def test_a_step_result_over_the_checkpoint_limit_fails_the_step_without_retrying():
    calls = []

    def big():
        calls.append(1)
        return "x" * (300 * 1024)

    @replayflow.durable
    def wf(_, ctx):
        try:
            yield ctx.step(big)
        except StepError as e:
            return e.error_type

    rec = Recorder()
    assert invoke(wf, event(), rec)["Result"] == '"replayflow.PayloadTooLargeError"'
    assert calls == [1]
    assert rec.updates[-1]["Action"] == "FAIL"
    assert "checkpoint holds at most 262,144" in rec.updates[-1]["Error"]["ErrorMessage"]


def test_a_result_that_cannot_be_serialized_fails_the_step_permanently():
    @replayflow.durable
    def wf(_, ctx):
        try:
            yield ctx.step(object)
        except StepError as e:
            return [e.error_type, "object" in e.error_message]

    rec = Recorder()
    assert invoke(wf, event(), rec)["Result"] == '["replayflow.SerDesError",true]'
    assert [u["Action"] for u in rec.updates] == ["START", "FAIL"]


def test_retryable_serdes_errors_are_raised_so_lambda_retries_the_invocation():
    class Flappy:
        def serialize(self, value, context):
            raise replayflow.RetryableSerDesError("offload store unreachable")

        def deserialize(self, data, context):
            return data

    @replayflow.durable
    def wf(_, ctx):
        yield ctx.step(lambda: 1, serdes=Flappy())

    with pytest.raises(replayflow.RetryableSerDesError):
        invoke(wf, event())


def test_invalid_step_arguments_raise_validation_errors_at_the_call():
    @replayflow.durable
    def wf(_, ctx):
        for bad in (
            lambda: ctx.step(42),
            lambda: ctx.step(len, name=3),
            lambda: ctx.step(len, retry=5),
            lambda: ctx.step(len, semantics="AT_MOST"),
        ):
            try:
                bad()
            except replayflow.ValidationError as e:
                yield ctx.step(str, str(e), name="err")

    rec = Recorder()
    invoke(wf, event(), rec)
    payloads = [u["Payload"] for u in rec.updates if u["Action"] == "SUCCEED"]
    assert len(payloads) == 4
    assert "needs a callable" in payloads[0]
    assert "must be a str" in payloads[1]
    assert "retry strategy" in payloads[2]
    assert "StepSemantics" in payloads[3]


def test_none_as_the_first_step_function_is_a_validation_error():
    # ctx.step caches the last function it saw; a fresh context's cache must not pass None as seen before
    @replayflow.durable
    def wf(_, ctx):
        try:
            ctx.step(None, name="nothing")
        except replayflow.ValidationError as e:
            return str(e)
        return "accepted"

    rec = Recorder()
    out = invoke(wf, event(), rec)
    assert "needs a callable" in orjson.loads(out["Result"])
    assert not [u for u in rec.updates if u["Type"] == "STEP"]


def test_a_slow_body_has_its_start_checkpointed_while_it_runs():
    rec = Recorder()
    seen_during_body = []

    def slow():
        deadline = time.monotonic() + 30  # bounds a hang only: the START comes about 0.05 s in
        while not rec.updates and time.monotonic() < deadline:
            time.sleep(0.01)
        seen_during_body.append([u["Action"] for u in rec.updates])
        return "done"

    @replayflow.durable(start_checkpoint_delay=0.05)
    def wf(_, ctx):
        return (yield ctx.step(slow))

    assert invoke(wf, event(), rec)["Result"] == '"done"'
    assert seen_during_body == [["START"]]  # durable before the body finished: a crash would show it
    assert [[u["Action"] for u in batch] for batch in rec.checkpoints] == [["START"], ["SUCCEED"]]


def test_a_slow_body_on_a_worker_thread_has_its_start_checkpointed_while_it_runs():
    rec = Recorder()
    seen_during_body = []

    def slow():
        deadline = time.monotonic() + 30  # bounds a hang only: the START comes about 0.05 s in
        while not any(u["Type"] == "STEP" for u in rec.updates) and time.monotonic() < deadline:
            time.sleep(0.01)
        seen_during_body.append([u["Action"] for u in rec.updates if u["Type"] == "STEP"])
        return "done"

    def first(c):
        return (yield c.step(slow, name="slow"))

    def second(c):
        yield c.wait(seconds=1)

    @replayflow.durable(start_checkpoint_delay=0.05)
    def wf(_, ctx):  # two branches: the first one's body runs on a worker thread while the second one goes on
        yield ctx.parallel([first, second])

    assert invoke(wf, event(), rec)["Status"] == "PENDING"  # (on the second branch's wait)
    assert seen_during_body == [["START"]]  # durable before the body finished: a crash would show it


def test_a_quick_body_on_a_worker_thread_sends_its_start_with_its_result_while_the_workflow_is_busy(monkeypatch):
    """The START delay counts the body's own run: a body that finished at once, but whose outcome then waited
    for the interpreter (busy in another branch's code) past the delay, sends no START on its own. Before,
    the delay ran until the interpreter took the outcome: a large map's quick bodies all sent their STARTs in
    background flushes, one call each (7,115 calls for a 16k-item map's first run, against 4 now)."""
    alarms = ManualAlarms()
    monkeypatch.setattr("replayflow._checkpoint.ALARMS", alarms)
    body_done = threading.Event()

    def quick():
        body_done.set()
        return 3

    def first(c):
        return (yield c.step(quick, name="first"))

    def busy(c):  # workflow code on the interpreter's thread while the first branch's body runs
        assert body_done.wait(30)
        deadline = time.monotonic() + 2  # (bounds the wait: before, the alarm stayed armed until now)
        while alarms.pending() and time.monotonic() < deadline:
            time.sleep(0.001)
        alarms.fire()  # the delay passes before the interpreter takes the first body's outcome
        return (yield c.step(len, "ab", name="second"))

    @replayflow.durable
    def wf(_, ctx):
        result = yield ctx.parallel([first, busy])
        return result.get_results()

    rec = Recorder()
    assert invoke(wf, event(), rec)["Result"] == "[3,2]"
    assert alarms.armed  # the body armed its delay
    [batch] = [b for b in rec.checkpoints if any(u.get("Name") == "first" for u in b)]
    assert [u["Action"] for u in batch if u.get("Name") == "first"] == ["START", "SUCCEED"], rec.checkpoints


def test_a_quick_body_sends_its_start_with_its_result():
    @replayflow.durable(start_checkpoint_delay=5)
    def wf(_, ctx):
        return (yield ctx.step(lambda: "quick"))

    rec = Recorder()
    invoke(wf, event(), rec)
    assert [[u["Action"] for u in batch] for batch in rec.checkpoints] == [["START", "SUCCEED"]]


# -- what a step's failure looks like to the workflow: unserializable results, undecodable messages --


class Receipt:  # neither JSON, a dataclass nor attrs: it cannot be checkpointed
    pass


def make_receipt() -> Receipt:
    return Receipt()


def read_file_named_in_latin1() -> str:
    name = os.fsdecode(b"report-\xe9.csv")  # a lone surrogate, as Linux file names give
    raise FileNotFoundError(f"no such file: {name}")


def test_an_unserializable_result_names_the_step_and_the_function_that_returned_it():
    def workflow(_, ctx):
        try:
            yield ctx.step(make_receipt, name="receipt")
        except replayflow.StepError as error:
            return str(error)
        return "stored"

    message = run(workflow).assert_succeeded()
    line = inspect.getsourcelines(make_receipt)[1]
    assert message.startswith("step 'receipt' returned a value that cannot be checkpointed")
    assert f"make_receipt at {__file__}:{line}" in message and "Receipt" in message
    assert "serdes=" in message


def test_a_lone_surrogate_in_an_error_message_is_a_step_error_after_the_retries():
    def workflow(_, ctx):
        try:
            yield ctx.step(read_file_named_in_latin1, name="read", retry=replayflow.RetryPolicy(max_attempts=3))
        except replayflow.StepError as error:
            return [error.error_type, error.error_message]

    result = run(workflow)
    assert result.assert_succeeded() == ["FileNotFoundError", "no such file: report-\\udce9.csv"]
    assert result.get_step("read").attempt == 3  # retried: not a TypeError out of the SDK


def test_an_uncaught_lone_surrogate_fails_the_execution_with_the_step_error():
    def workflow(_, ctx):
        yield ctx.step(read_file_named_in_latin1, name="read", retry=replayflow.RetryPresets.none())

    error = run(workflow).assert_failed("FileNotFoundError")
    assert "report-\\udce9.csv" in error["ErrorMessage"]


def test_keyword_arguments_go_to_the_body_and_the_options_to_the_step():
    """``ctx.step``'s own options (name, retry, semantics, serdes, result_type, pipelined) are taken out;
    every other keyword argument is the body's, with or without options beside it."""
    seen = []

    def body(x, *, scale=1, retry="the body's own"):
        seen.append((x, scale, retry))
        return x * scale

    @replayflow.durable
    def wf(_, ctx):
        a = yield ctx.step(body, 2, scale=3)
        b = yield ctx.step(body, 2, scale=5, name="b", semantics=replayflow.StepSemantics.AT_MOST_ONCE_PER_RETRY)
        c = yield ctx.step(body, 1, retry=replayflow.RetryPresets.none(), pipelined=False)
        return [a, b, c]

    rec = Recorder()
    out = invoke(wf, event(), rec)
    assert out == {"Status": "SUCCEEDED", "Result": "[6,10,1]"}
    assert seen == [(2, 3, "the body's own"), (2, 5, "the body's own"), (1, 1, "the body's own")]
    assert [u["Name"] for u in rec.updates if u["Action"] == "SUCCEED"] == ["body", "b", "body"]


def test_a_default_serdes_step_is_known_by_its_class_and_shows_and_pickles_as_a_step(monkeypatch):
    import dataclasses
    import pickle

    from replayflow._ops.step import DefaultSerdesStep, Step

    @dataclasses.dataclass
    class Point:
        x: int

    def plain() -> int:
        return 1

    def typed() -> Point:
        return Point(1)

    built = []

    @replayflow.durable
    def wf(_, ctx):
        for op in (ctx.step(plain), ctx.step(plain, retry=RetryPresets.none()), ctx.step(typed, result_type=Point)):
            built.append(op)
            yield op

    invoke(wf, event())
    plain_step, with_retry, typed_step = built
    assert type(plain_step) is DefaultSerdesStep and type(with_retry) is DefaultSerdesStep
    assert type(typed_step) is Step  # its serdes structures Point: not the fast path's
    assert repr(plain_step).startswith("Step(fn=")
    made = Step.of(_module_level_body, (), {}, "plain")
    assert type(made) is DefaultSerdesStep  # Step.of(...) makes one too
    again = pickle.loads(pickle.dumps(made))
    assert type(again) is Step
    assert (again.fn, again.args, again.kwargs, again.name, again.options) == (made.fn, (), {}, "plain", made.options)

    ran = []
    monkeypatch.setattr(Step, "run", lambda self, it, frame: ran.append(self.name))
    history = [step(1, name="plain", result=1), step(2, name="plain", result=1)]
    built.clear()

    @replayflow.durable
    def replayed(_, ctx):
        yield ctx.step(plain)
        yield ctx.step(plain, retry=RetryPresets.none())  # options do not leave the fast path

    assert invoke(replayed, event(*history))["Status"] == "SUCCEEDED"
    assert ran == []  # both replayed without Step.run


def _module_level_body() -> int:
    return 1
