"""Every event the service emits, checked against botocore's ``Event`` shape (and the REST encoding)."""

from __future__ import annotations

import json
import re
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

import replayflow
from replayflow.local import InvocationRetry, LocalDurableService, ProcessExit, VirtualClock
from replayflow.local.events import EVENT_TYPES

from .raw import Session, op_id, raw_handler, step

MODEL = botocore.session.get_session().get_service_model("lambda")
EVENT = MODEL.shape_for("Event")


def check_patterns(value: Any, shape: Any, path: str, problems: list[str]) -> None:
    if shape.type_name == "structure":
        for key, member in value.items():
            if key not in shape.members:
                problems.append(f"{path}.{key}: not a member of {shape.name}")
                continue
            check_patterns(member, shape.members[key], f"{path}.{key}", problems)
    elif shape.type_name == "list":
        for i, item in enumerate(value):
            check_patterns(item, shape.member, f"{path}[{i}]", problems)
    elif shape.type_name == "string":
        pattern = shape.metadata.get("pattern")
        if pattern and not re.fullmatch(pattern, value):
            problems.append(f"{path}: {value!r} does not match {pattern}")
        if "enum" in shape.metadata and value not in shape.metadata["enum"]:
            problems.append(f"{path}: {value!r} not in the enum")
        if len(value) > shape.metadata.get("max", 1 << 30):
            problems.append(f"{path}: too long")
    elif shape.type_name == "integer" and type(value) is not int:
        problems.append(f"{path}: {value!r} is not an integer")


def check_event(event: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    report = ParamValidator().validate(event, EVENT)
    if report.has_errors():
        problems.append(report.generate_report())
    check_patterns(event, EVENT, f"Event[{event.get('EventId')}]", problems)
    details = [k for k in event if k.endswith("Details")]
    if details != [event["EventType"] + "Details"]:
        problems.append(f"event {event['EventId']} has details keys {details}")
    required = EVENT.members[event["EventType"] + "Details"].required_members
    problems += [f"{event['EventType']}Details.{r} missing" for r in required if r not in event[details[0]]]
    for key in ("EventType", "EventId", "EventTimestamp"):
        if key not in event:
            problems.append(f"{key} missing")
    return problems


def every_event_type(svc: LocalDurableService) -> list[str]:
    """Run executions that together emit every event type the service can emit; their ARNs."""

    @replayflow.durable
    def child(input: Any, ctx: Any) -> Any:
        yield ctx.wait(seconds=1)
        if input == "fail":
            raise ValueError("child failed")
        return input

    @replayflow.durable
    def main(input: Any, ctx: Any) -> Any:
        def flaky() -> str:
            from replayflow import step_context

            if step_context().attempt < 2:
                raise RuntimeError("again")
            return "ok"

        yield ctx.step(
            flaky,
            name="flaky",
            retry=replayflow.RetryPolicy(max_attempts=3, initial_delay=1, jitter=replayflow.Jitter.NONE),
        )

        def child_body(c: Any) -> Any:
            return (yield c.step(lambda: 1, name="inner"))

        yield ctx.run_in_child_context(child_body, name="kid")
        try:  # noqa: SIM105
            yield ctx.run_in_child_context(lambda c: (_ for _ in ()).throw(KeyError("ctx")), name="bad-kid")
        except replayflow.ChildContextError:
            pass
        try:  # noqa: SIM105
            yield ctx.step(lambda: 1 / 0, name="div", retry=replayflow.RetryPresets.none())
        except replayflow.StepError:
            pass
        yield ctx.wait(seconds=2, name="pause")
        yield ctx.invoke("child", "x", name="ok-child")
        try:  # noqa: SIM105
            yield ctx.invoke("child", "fail", name="bad-child")
        except replayflow.InvokeError:
            pass
        cb = yield ctx.create_callback(name="approve")
        ok = yield cb.result()
        late = yield ctx.create_callback(name="late", timeout=5)
        try:  # noqa: SIM105
            yield late.result()
        except replayflow.CallbackTimeoutError:
            pass
        rejected = yield ctx.create_callback(name="reject")
        try:  # noqa: SIM105
            yield rejected.result()
        except replayflow.CallbackFailedError:
            pass
        yield ctx.wait_for_condition(lambda s: s + 1, initial_state=0, wait_strategy=lambda s, a: None if s > 1 else 1)
        return ok

    svc.register("child", child)
    svc.register("main", main)
    arn = svc.start_execution("main", "null")
    for _ in range(200):
        svc.advance(1)
        for e in svc.get_durable_execution_history(DurableExecutionArn=arn, MaxItems=1000)["Events"]:
            if e["EventType"] == "CallbackStarted" and e["Id"] not in sent:
                sent.add(e["Id"])
                callback_id = e["CallbackStartedDetails"]["CallbackId"]
                if e["Name"] == "approve":
                    svc.send_durable_execution_callback_success(CallbackId=callback_id, Result=b'"yes"')
                elif e["Name"] == "reject":
                    svc.send_durable_execution_callback_failure(
                        CallbackId=callback_id,
                        Error={"ErrorType": "No", "ErrorMessage": "rejected", "StackTrace": ["a"]},
                    )
        if svc.execution(arn).status != "RUNNING":
            break
    assert svc.execution(arn).succeeded, svc.execution(arn)
    arns = [arn]
    assert isinstance(svc.clock, VirtualClock)
    svc.clock.autojump = True  # nothing outside needs to act from here on

    # raw handlers for what the SDK does not do here: WAIT CANCEL, a crash, EXECUTION FAIL, timeouts, stops
    def raw(s: Session) -> dict[str, Any]:
        if len(s.ops) == 1:
            s.checkpoint(
                {
                    "Id": op_id(1),
                    "Type": "WAIT",
                    "SubType": "Wait",
                    "Action": "START",
                    "WaitOptions": {"WaitSeconds": 9},
                }
            )
            s.checkpoint({"Id": op_id(1), "Type": "WAIT", "Action": "CANCEL", "Error": {"ErrorMessage": "cancelled"}})
            s.checkpoint(step(op_id(2)))
            raise ProcessExit(3)
        s.checkpoint(step(op_id(2), "SUCCEED", Payload="1"))
        s.checkpoint(
            {"Id": "execution-result-1", "Type": "EXECUTION", "Action": "FAIL", "Error": {"ErrorMessage": "big"}}
        )
        return {"Status": "FAILED"}

    svc.register("raw", raw_handler(raw))
    arns.append(svc.wait(svc.start_execution("raw", '{"k": 1}'), timeout=60).arn)

    @replayflow.durable
    def slow(input: Any, ctx: Any) -> Any:
        yield ctx.wait(seconds=100)

    @replayflow.durable
    def waits_on_slow(input: Any, ctx: Any) -> Any:
        return (yield ctx.invoke(input, None))

    svc.register("slow", slow, execution_timeout=10)
    svc.register("waits", waits_on_slow)
    arns.append(svc.wait(svc.start_execution("waits", '"slow"'), timeout=60).arn)
    stopped = svc.start_execution("waits", '"slow"')
    svc.advance(0)
    child_arn = svc.get_durable_execution_history(DurableExecutionArn=stopped)["Events"][1][
        "ChainedInvokeStartedDetails"
    ]["DurableExecutionArn"]
    svc.stop_durable_execution(DurableExecutionArn=child_arn)
    svc.wait(stopped, timeout=60)
    arns += [stopped, child_arn]
    return arns


sent: set[str] = set()


@pytest.fixture(scope="module")
def histories() -> dict[str, list[dict[str, Any]]]:
    svc = LocalDurableService(clock=VirtualClock(autojump=False), invocation_retry=InvocationRetry(initial_delay=1))
    arns = every_event_type(svc)
    out = {}
    for arn in svc_arns(svc, arns):
        out[arn] = svc.get_durable_execution_history(DurableExecutionArn=arn, MaxItems=1000)["Events"]
    # the REST encoding of one of them (epoch seconds) must be plain JSON
    out["__rest__"] = json.loads(
        json.dumps(svc.history(arns[0], max_items=1000, timestamp=lambda ms: ms / 1000)["Events"])
    )
    return out


def svc_arns(svc: LocalDurableService, arns: list[str]) -> list[str]:
    return sorted({*arns, *(r.arn for r in svc.executions())})


def test_every_event_type_is_emitted(histories: dict[str, list[dict[str, Any]]]) -> None:
    emitted = {e["EventType"] for arn, h in histories.items() if arn != "__rest__" for e in h}
    assert emitted == set(EVENT_TYPES) - {"ExecutionPaused", "ExecutionResumed"}


def test_every_event_matches_the_botocore_shape(histories: dict[str, list[dict[str, Any]]]) -> None:
    problems = []
    for arn, history in histories.items():
        if arn == "__rest__":
            continue
        assert [e["EventId"] for e in history] == list(range(1, len(history) + 1))
        assert history[0]["EventType"] == "ExecutionStarted"
        for event in history:
            problems += check_event(event)
        invocations = [e for e in history if e["EventType"] == "InvocationCompleted"]
        assert invocations, arn
        for e in invocations:
            d = e["InvocationCompletedDetails"]
            assert d["StartTimestamp"] <= d["EndTimestamp"] and d["RequestId"]
    assert problems == []


def test_payloads_are_marked_not_truncated(histories: dict[str, list[dict[str, Any]]]) -> None:
    for history in histories.values():
        for event in history:
            details = event[event["EventType"] + "Details"]
            for key in ("Input", "Result", "Error"):
                if key in details:
                    assert details[key]["Truncated"] is False


def test_rest_encoding_uses_epoch_seconds(histories: dict[str, list[dict[str, Any]]]) -> None:
    rest = histories["__rest__"]
    assert all(isinstance(e["EventTimestamp"], float) for e in rest)
    wait = next(e for e in rest if e["EventType"] == "WaitStarted")
    assert (
        wait["WaitStartedDetails"]["ScheduledEndTimestamp"] - wait["EventTimestamp"]
        == wait["WaitStartedDetails"]["Duration"]
    )


def test_crash_and_cancel_details(histories: dict[str, list[dict[str, Any]]]) -> None:
    raw = next(h for h in histories.values() if any(e["EventType"] == "WaitCancelled" for e in h))
    assert [e["EventType"] for e in raw] == [
        "ExecutionStarted",
        "WaitStarted",
        "WaitCancelled",
        "StepStarted",
        "InvocationCompleted",
        "StepSucceeded",
        "InvocationCompleted",
        "ExecutionFailed",
    ]
    crash = raw[4]["InvocationCompletedDetails"]["Error"]["Payload"]
    assert crash["ErrorType"] == "Runtime.ExitError" and crash["ErrorMessage"].endswith("exit status 3")
    assert raw[-1]["ExecutionFailedDetails"]["Error"]["Payload"] == {"ErrorMessage": "big"}


def test_history_without_execution_data_and_paging() -> None:
    svc = LocalDurableService()

    @replayflow.durable
    def wf(input: Any, ctx: Any) -> Any:
        for i in range(5):
            yield ctx.step(lambda i=i: i, name=f"s{i}")
        return "secret"

    svc.register("wf", wf)
    arn = svc.run("wf", {"x": "secret"}).arn
    full = svc.get_durable_execution_history(DurableExecutionArn=arn)["Events"]
    bare = svc.get_durable_execution_history(DurableExecutionArn=arn, IncludeExecutionData=False)["Events"]
    assert "secret" in json.dumps(full, default=str) and "secret" not in json.dumps(bare, default=str)
    assert bare[0]["ExecutionStartedDetails"]["Input"] == {"Truncated": True}
    pages, marker = [], None
    while True:
        page = svc.get_durable_execution_history(
            DurableExecutionArn=arn, MaxItems=4, **({"Marker": marker} if marker else {})
        )
        pages.append(page["Events"])
        marker = page.get("NextMarker")
        if not marker:
            break
    assert [e for p in pages for e in p] == full and len(pages) == 4
    backwards = svc.get_durable_execution_history(DurableExecutionArn=arn, ReverseOrder=True)["Events"]
    assert backwards == full[::-1]
    described = svc.get_durable_execution(DurableExecutionArn=arn)
    report = ParamValidator().validate(dict(described), MODEL.operation_model("GetDurableExecution").output_shape)
    assert not report.has_errors(), report.generate_report()
    assert described["Result"] == '"secret"' and described["InputPayload"] == '{"x": "secret"}'
