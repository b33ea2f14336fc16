"""Generated workflows on the local service, with crashes: the checker passes, no completed step body runs
again, and the result is what a straight-line reading of the case says.

``REPLAYFLOW_PROPERTY_EXAMPLES=5000 pytest tests/testing/test_generated.py`` runs thousands of cases; the
default (the ``replayflow-ci`` profile) keeps the suite's share to well under a minute.
"""

from __future__ import annotations

import itertools
import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import replayflow
from replayflow.testing import run

from . import generated_workflows as g

settings.register_profile(
    "replayflow-ci",
    max_examples=int(os.environ.get("REPLAYFLOW_PROPERTY_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

_LEAVES = st.one_of(
    st.tuples(
        st.just("step"),
        st.just(""),
        st.sampled_from(["ok", "fail", "retry1", "retry2", "exhaust"]),
        st.sampled_from(["alo", "amo"]),
    ),
    st.tuples(st.just("wait"), st.just(""), st.integers(1, 20)),
    st.tuples(st.just("callback"), st.just(""), st.sampled_from(["succeed", "fail", "timeout", "heartbeat", "broken"])),
    st.tuples(st.just("invoke"), st.just(""), st.sampled_from(["ok", "fail"])),
    st.tuples(st.just("cond"), st.just(""), st.integers(1, 4)),
)
_CRASH = st.tuples(st.just("crash"), st.just(""), st.sampled_from(["alo", "amo"]))
_POLICIES = ["all_completed", "fail_fast", "min_successful_1", "min_successful_2"]


def bodies(depth: int, crashes: bool, anywhere: bool = False) -> st.SearchStrategy[list[Any]]:
    """Operation lists nested ``depth`` deep; ``crashes``: with crashes. A batch's branches may crash only
    when it and every batch around it run one branch at a time, unless ``anywhere`` (a crash while sibling
    branches run on worker threads may legitimately re-run a body that finished but was not checkpointed)."""
    options = [_LEAVES, _CRASH] if crashes else [_LEAVES]
    if depth > 0:
        options.append(st.tuples(st.just("child"), st.just(""), bodies(depth - 1, crashes, anywhere), st.booleans()))
        options.append(_batches(depth - 1, crashes, anywhere))
    return st.lists(st.one_of(options), max_size=4)


def _batches(depth: int, crashes: bool, anywhere: bool) -> st.SearchStrategy[Any]:
    @st.composite
    def batch(draw: Any) -> Any:
        kind = draw(st.sampled_from(["map", "parallel"]))
        policy = draw(st.sampled_from(_POLICIES))
        # with a policy that stops early, one branch at a time makes which branches ran deterministic
        concurrency = draw(st.sampled_from([None, 1, 2])) if policy == "all_completed" else 1
        item = st.tuples(bodies(depth, crashes and (anywhere or concurrency == 1), anywhere), st.booleans())
        items = draw(st.lists(item, min_size=1, max_size=3))
        return ("batch", "", kind, items, policy, concurrency)

    return batch()


def _labelled(body: list[Any], counter: itertools.count[int]) -> list[Any]:
    """JSON lists, each operation with a label of its own (callbacks are answered by name)."""
    out = []
    for generated in body:
        op = [*generated]
        op[1] = f"op{next(counter)}"
        if op[0] == "child":
            op[2] = _labelled(op[2], counter)
        elif op[0] == "batch":
            op[3] = [[_labelled(item, counter), raises] for item, raises in op[3]]
        out.append(op)
    return out


def run_case(case: list[Any]) -> None:
    g.reset()
    result = run(g.generated, case, callbacks=g.callbacks_of(case), functions=g.FUNCTIONS)  # the checker is on
    assert result.status == "SUCCEEDED", result.explain()
    assert result.result == g.expected(case)
    assert g.RAN_AGAIN == [], "a completed step body ran again"


def _crashes(body: list[Any]) -> int:
    return sum(op[0] == "crash" for op, _ in g.walk(body))


#: Each crash fails one invocation; the local service, like Lambda, fails the execution after 6 in a row.
MAX_CRASHES = 4


def cases(*, anywhere: bool = False, empty: bool = True) -> st.SearchStrategy[list[Any]]:
    """Labelled cases two deep with at most :data:`MAX_CRASHES` crashes (``anywhere``: see :func:`bodies`)."""
    return st.builds(lambda body: _labelled(body, itertools.count()), bodies(2, True, anywhere)).filter(
        lambda case: (empty or bool(case)) and _crashes(case) <= MAX_CRASHES
    )


@settings(settings.get_profile("replayflow-ci"))
@given(cases())
def test_generated_workflows_replay_equivalently_and_match_the_reference(case):
    run_case(case)


@settings(settings.get_profile("replayflow-ci"))
@given(cases(anywhere=True))
def test_crashes_among_concurrent_branches_never_run_an_at_most_once_body_twice(case):
    """A crash while sibling branches run: an at-least-once body that finished but was not checkpointed may
    run again (so the result is not the reference's), an at-most-once one never; replays stay equivalent."""
    run_crashing_case(case)


@settings(settings.get_profile("replayflow-ci"))
@given(cases())
def test_generated_workflows_pipelined_match_the_reference(case):
    """Pipelined: an at-least-once step whose result was not acknowledged at a crash runs again (the bodies
    are deterministic, so the result is the reference's), an at-most-once one never does."""
    assert run_crashing_case(case, g.generated_pipelined).result == g.expected(case)


@settings(settings.get_profile("replayflow-ci"))
@given(
    cases(),
    st.integers(1, 3),
    st.booleans(),
)
def test_generated_workflows_match_the_reference_when_the_state_comes_in_pages(case, page_size, pipelined):
    """Every invocation loads its history in pages of one to three operations (or 400 bytes) instead of one."""
    from replayflow.local import Limits, LocalDurableService, VirtualClock

    workflow = g.generated_pipelined if pipelined else g.generated
    with LocalDurableService(clock=VirtualClock(), limits=Limits(page_size=page_size, page_bytes=400)) as service:
        assert run_crashing_case(case, workflow, service).result == g.expected(case)
    if not pipelined:
        assert g.RAN_AGAIN == [], "a completed step body ran again"


def run_crashing_case(case: list[Any], workflow: Any = g.generated, service: Any = None) -> Any:
    g.reset()
    result = run(workflow, case, callbacks=g.callbacks_of(case), functions=g.FUNCTIONS, service=service)  # checked
    assert result.status == "SUCCEEDED", result.explain()
    at_most_once = g.at_most_once_keys(case)
    assert [done for done in g.RAN_AGAIN if done[0] in at_most_once] == []
    return result


# -- regressions: failing examples found by the property above --------------------------------------------------


def test_regression_a_callback_created_after_a_crash_is_answered():
    """run() stopped answering callbacks when the only timer left was the service's re-invocation."""
    run_case([["crash", "op0", "alo"], ["callback", "op1", "succeed"]])
    run_case([["crash", "op0", "amo"], ["wait", "op1", 3], ["callback", "op2", "fail"]])


@pytest.mark.parametrize("answer", ["succeed", "fail", "timeout", "heartbeat", "broken"])
def test_every_operation_kind_in_one_case(answer):
    run_case(
        [
            ["step", "op0", "retry2", "amo"],
            ["crash", "op1", "alo"],
            ["callback", "op2", answer],
            ["child", "op3", [["cond", "op4", 2], ["cond", "op10", 4], ["invoke", "op5", "fail"]], False],
            ["batch", "op6", "map", [[[["step", "op7", "exhaust", "alo"]], False], [[], True]], "all_completed", 2],
            ["batch", "op8", "parallel", [[[["wait", "op9", 2]], False], [[], False]], "min_successful_1", 1],
        ]
    )


def test_regression_a_result_handed_over_but_not_checkpointed_when_a_sibling_crashes():
    """Found by the property above: the at-most-once step finished and its branch went on, then the other
    branch's crash ended the invocation before the result was checkpointed, so the next invocation saw the
    step interrupted. The checker took what the dead invocation saw for the first run; it now takes the first
    run from invocations that ended. (Finished results are now also checkpointed while other bodies run,
    ``test_batch.py``; that narrows the window, but a crash can come at any moment.)"""
    items = [[[["cond", "op1", 1], ["crash", "op2", "alo"]], False], [[["step", "op3", "ok", "amo"]], False]]
    run_crashing_case([["batch", "op0", "map", items, "all_completed", None]])


def test_regression_a_child_failing_after_an_interrupted_step():
    """The checker compared the dry replay's own stack trace of a not-yet-recorded failure with the run's."""
    run_case([["child", "op0", [["crash", "op1", "amo"]], True]])


def test_regression_six_crashes_in_a_row_exhaust_the_invocation_retries():
    """Found as a failing example: the generator now stays within the service's retry budget."""
    case = [["crash", f"op{i}", "alo"] for i in range(6)]
    g.reset()
    result = run(g.generated, case, callbacks={}, functions=g.FUNCTIONS)
    result.assert_failed("Runtime.ExitError")
    run_case(case[:MAX_CRASHES])


@pytest.mark.slow
def test_a_case_whose_worker_processes_are_killed(tmp_path):
    """The same case with each crash a real worker process exiting (``SubprocessInvoker``)."""
    from replayflow.local import LocalDurableService, SubprocessInvoker, VirtualClock

    case = [
        ["step", "op0", "retry1", "alo"],
        ["crash", "op1", "alo"],
        ["child", "op2", [["crash", "op3", "amo"], ["wait", "op4", 5]], False],
        ["callback", "op5", "succeed"],
        ["batch", "op6", "map", [[[["step", "op7", "ok", "alo"]], False], [[], True]], "all_completed", None],
    ]
    invoker = SubprocessInvoker(env={"REPLAYFLOW_GENERATED_DIR": str(tmp_path)})
    with LocalDurableService(clock=VirtualClock(), invoker=invoker) as service:
        service.register("target-ok", g.invoke_ok, durable=False)
        # the tracer lives in this process, the workflow runs in the workers: the checker stays off
        result = run(g.generated, case, callbacks=g.callbacks_of(case), service=service, check_replay=False)
    assert result.status == "SUCCEEDED", result.explain()
    assert result.result == g.expected(case)
    assert (tmp_path / "crashed").read_text().split() == ["op1", "op2/op3"]
    assert not (tmp_path / "ran-again").exists(), "a completed step body ran again"
    assert invoker.started >= 3  # the killed workers were replaced


@pytest.mark.slow
def test_a_worker_process_killed_while_a_sibling_branch_runs(tmp_path):
    """A real crash among concurrent branches: the worker process exits in one branch's step while the other
    branch's at-most-once step runs or has just finished. Whenever it comes, that step's body runs once: its
    result is recorded, or the next invocation finds it interrupted."""
    from replayflow.local import LocalDurableService, SubprocessInvoker, VirtualClock

    items = [[[["crash", "op1", "alo"]], False], [[["step", "op2", "ok", "amo"]], False]]
    case = [["batch", "op0", "map", items, "all_completed", None]]
    invoker = SubprocessInvoker(env={"REPLAYFLOW_GENERATED_DIR": str(tmp_path)})
    with LocalDurableService(clock=VirtualClock(), invoker=invoker) as service:
        result = run(g.generated, case, service=service, check_replay=False)  # (the workflow runs in the workers)
    assert result.status == "SUCCEEDED", result.explain()
    assert (tmp_path / "crashed").read_text().split() == ["op0/0/op1"]
    again = tmp_path / "ran-again"
    assert "op0/1/op2#1" not in (again.read_text().split() if again.exists() else [])
    [[kind, [first, second], reason]] = result.result
    assert (kind, reason) == ("batch", "ALL_COMPLETED")
    assert first == ["SUCCEEDED", [["step", "op0/0/op1"]]]  # at least once: it ran again and succeeded
    assert second in (["SUCCEEDED", [["step", "op0/1/op2"]]], ["SUCCEEDED", [["caught", "StepInterruptedError"]]])


# -- the code changed under a running execution -------------------------------------------------------------

_CHANGES = st.sampled_from(["rename", "drop", "insert"])


@settings(settings.get_profile("replayflow-ci"))
@given(cases(empty=False), st.data())
def test_a_changed_operation_is_named_when_the_history_replays(case, data):
    """Any top-level operation of a finished execution renamed, dropped, or with a step inserted before it: a
    replay of the history stops with a NonDeterminismError that shows the operation's record."""
    from replayflow.testing import replay

    g.reset()
    result = run(g.generated, case, callbacks=g.callbacks_of(case), functions=g.FUNCTIONS)
    label = data.draw(st.sampled_from([op[1] for op in case]))
    g.CHANGES[label] = data.draw(_CHANGES)
    changed = replay(g.generated, result).non_determinism
    assert changed is not None
    assert repr(label) in (changed.recorded or ""), (g.CHANGES, changed.recorded, changed.attempted)


@settings(settings.get_profile("replayflow-ci"))
@given(cases(empty=False), st.data())
def test_code_changed_under_a_running_execution_stops_it_before_any_body_runs(case, data):
    """Before the second invocation, an operation the history holds (at any depth: inside a child context or a
    branch too) is renamed, dropped or gets a step inserted before it. The execution fails with a
    NonDeterminismError, and no step body runs in that invocation: not even one a sibling branch would
    run next, before the changed branch's replay reached the change."""
    from replayflow.local import LocalDurableService, VirtualClock

    labels = {op[1] for op, _ in g.walk(case)}
    changed: list[Any] = []
    service = LocalDurableService(clock=VirtualClock())

    class ChangeTheCode(replayflow.Plugin):
        def on_invocation_start(self, info: replayflow.InvocationInfo) -> None:
            if info.is_first_invocation or changed:
                return
            held = [op["Name"] for op in service.invocation_operations(info.execution_arn) if op.get("Name") in labels]
            if held:
                label = data.draw(st.sampled_from(held))
                g.CHANGES[label] = data.draw(_CHANGES)
                changed.append((label, len(g.COMPLETED), len(g.CRASHED)))

    g.reset()
    workflow = replayflow.durable(plugins=[ChangeTheCode()])(g.generated.workflow)
    with service:
        result = run(
            workflow, case, callbacks=g.callbacks_of(case), functions=g.FUNCTIONS, service=service, check_replay=False
        )  # (the checker would report the change itself, as a divergence)
    assume(changed)  # (a case that ends in its first invocation has nothing to change under)
    [(label, completed, crashed)] = changed
    assert result.status == "FAILED", (label, g.CHANGES, result.explain())
    assert "NonDeterminismError" in str(result.error), result.error
    assert (len(g.COMPLETED), len(g.CRASHED)) == (completed, crashed), f"a body ran after {g.CHANGES}"


def _sibling_case(kind: str, concurrency: int | None) -> list[Any]:
    """Branch 0 waits 1 s, then runs op2; branch 1 runs op3 and op4, then waits 5 s (op4 is the one renamed)."""
    first = [["wait", "op1", 1], ["step", "op2", "ok", "alo"]]
    second = [["step", "op3", "ok", "alo"], ["step", "op4", "ok", "alo"], ["wait", "op5", 5]]
    return [["batch", "op0", kind, [[first, False], [second, False]], "all_completed", concurrency]]


@pytest.mark.parametrize("kind", ["map", "parallel"])
@pytest.mark.parametrize("concurrency", [None, 2])
def test_regression_a_sibling_branch_ran_new_work_before_the_changed_branch_replayed(kind, concurrency):
    """Found by the property above: branch 0's timer fired, and in the next invocation it started its step
    before branch 1, whose recorded step had been renamed, was replayed. Now new work waits until every
    frame has replayed what it can."""
    from replayflow.local import LocalDurableService, VirtualClock

    case = _sibling_case(kind, concurrency)
    invocations: list[str] = []

    class RenameOp4(replayflow.Plugin):
        def on_invocation_start(self, info: replayflow.InvocationInfo) -> None:
            invocations.append(info.execution_arn)
            if len(invocations) == 2:
                g.CHANGES["op4"] = "rename"

    g.reset()
    workflow = replayflow.durable(plugins=[RenameOp4()])(g.generated.workflow)
    with LocalDurableService(clock=VirtualClock()) as service:
        result = run(workflow, case, service=service, check_replay=False)
    assert len(invocations) == 2
    assert result.status == "FAILED" and "NonDeterminismError" in str(result.error)
    assert "op4" in str(result.error)
    assert sorted(g.COMPLETED) == [("op0/1/op3", 1), ("op0/1/op4", 1)]  # op2 never ran


@pytest.mark.slow
def test_a_sibling_branch_waits_for_the_changed_branch_in_worker_processes(tmp_path):
    """The regression above with the workflow in real worker processes (``SubprocessInvoker``): the code
    changes (the ``changes`` file the workers read) before the second invocation, and no body runs in it."""
    from replayflow.local import LocalDurableService, SubprocessInvoker, VirtualClock

    class ChangeTheCodeBeforeTheSecondInvocation(SubprocessInvoker):
        invocations = 0

        def invoke(self, function: Any, event: Any, context: Any, transport: Any) -> Any:
            self.invocations += 1
            if self.invocations == 2:
                (tmp_path / "changes").write_text(json.dumps({"op4": "rename"}))
            return super().invoke(function, event, context, transport)

    case = _sibling_case("map", None)
    invoker = ChangeTheCodeBeforeTheSecondInvocation(env={"REPLAYFLOW_GENERATED_DIR": str(tmp_path)})
    with LocalDurableService(clock=VirtualClock(), invoker=invoker) as service:
        result = run(g.generated, case, service=service, check_replay=False)  # (the workflow runs in the workers)
    assert invoker.invocations == 2
    assert result.status == "FAILED" and "NonDeterminismError" in str(result.error), result.explain()
    assert "op4" in str(result.error)
    assert sorted((tmp_path / "completed").read_text().split()) == ["op0/1/op3#1", "op0/1/op4#1"]  # op2 never ran
