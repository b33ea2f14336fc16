"""Recorded histories: GetDurableExecutionState and GetDurableExecutionHistory dumps, invocation events."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from replayflow.testing import EPOCH, History, HistoryFormatError, load_history, replay

from .workflows import order_workflow

ORDER = {"id": "o-1", "items": ["A1"], "amount": 30}
EXEC_ARN = "arn:aws:lambda:eu-west-1:111122223333:function:orders:7/durable-execution/run-42/exec-42"


def strip_times(ops: Any) -> list[dict[str, Any]]:
    out = []
    for original in ops:
        op = {k: v for k, v in original.items() if not k.endswith("Timestamp")}
        for key, value in list(op.items()):
            if key.endswith("Details"):
                op[key] = {k: v for k, v in value.items() if not k.endswith("Timestamp") and k != "CallbackId"}
        out.append(op)
    return out


def finished_order_history() -> History:
    h = History(ORDER)
    h.step("reserve", result={"sku": "A1", "held": True})
    h.wait("cool-off", seconds=300)
    with h.child("billing", result={"charged": 30, "currency": "USD"}):
        h.step("charge", result={"charged": 30, "currency": "USD"}, attempts=2)
    h.step("ship", result="TRACK-1")
    return h


class Events:
    """Builds GetDurableExecutionHistory events the way the service reports them."""

    def __init__(self, when: Any) -> None:
        self.events: list[dict[str, Any]] = []
        self.when = when
        self.t = EPOCH

    def add(
        self,
        event_type: str,
        op_id: str,
        name: str | None = None,
        *,
        parent: str | None = None,
        sub_type: str | None = None,
        seconds: float = 1,
        **details: Any,
    ) -> None:
        self.t += dt.timedelta(seconds=seconds)
        event: dict[str, Any] = {
            "EventType": event_type,
            "EventId": len(self.events) + 1,
            "Id": op_id,
            "EventTimestamp": self.when(self.t),
        }
        if name is not None:
            event["Name"] = name
        if parent is not None:
            event["ParentId"] = parent
        if sub_type is not None:
            event["SubType"] = sub_type
        if details:
            event[f"{event_type}Details"] = details
        self.events.append(event)


def order_events(when: Any, *, finished: bool = True) -> list[dict[str, Any]]:
    h = finished_order_history()
    ids = {op.get("Name"): op["Id"] for op in h.operations}
    billing = ids["billing"]
    e = Events(when)
    order_json = json.dumps(ORDER, separators=(",", ":"))
    e.add("ExecutionStarted", "execution-1", "test-execution", Input={"Payload": order_json}, ExecutionTimeout=900)
    e.add("StepStarted", ids["reserve"], "reserve", sub_type="Step")
    e.add(
        "StepSucceeded",
        ids["reserve"],
        "reserve",
        sub_type="Step",
        Result={"Payload": '{"sku":"A1","held":true}', "Truncated": False},
        RetryDetails={"CurrentAttempt": 1},
    )
    e.add(
        "WaitStarted",
        ids["cool-off"],
        "cool-off",
        sub_type="Wait",
        Duration=300,
        ScheduledEndTimestamp=when(e.t + dt.timedelta(seconds=301)),
    )
    e.add("InvocationCompleted", "execution-1", RequestId="r-1")
    e.add("WaitSucceeded", ids["cool-off"], "cool-off", sub_type="Wait", seconds=300, Duration=300)
    e.add("ContextStarted", billing, "billing", sub_type="RunInChildContext")
    e.add("StepStarted", ids["charge"], "charge", parent=billing, sub_type="Step")
    e.add(
        "StepFailed",
        ids["charge"],
        "charge",
        parent=billing,
        sub_type="Step",
        Error={"Payload": {"ErrorType": "TimeoutError", "ErrorMessage": "gateway"}, "Truncated": False},
        RetryDetails={"CurrentAttempt": 1, "NextAttemptDelaySeconds": 2},
    )
    e.add("InvocationCompleted", "execution-1", RequestId="r-2")
    if finished:
        e.add("StepStarted", ids["charge"], "charge", parent=billing, sub_type="Step", seconds=2)
        e.add(
            "StepSucceeded",
            ids["charge"],
            "charge",
            parent=billing,
            sub_type="Step",
            Result={"Payload": '{"charged":30,"currency":"USD"}', "Truncated": False},
            RetryDetails={"CurrentAttempt": 2},
        )
        e.add(
            "ContextSucceeded",
            billing,
            "billing",
            sub_type="RunInChildContext",
            Result={"Payload": '{"charged":30,"currency":"USD"}', "Truncated": False},
        )
        e.add("StepStarted", ids["ship"], "ship", sub_type="Step")
        e.add("StepSucceeded", ids["ship"], "ship", sub_type="Step", Result={"Payload": '"TRACK-1"'})
        e.add(
            "ExecutionSucceeded",
            "execution-1",
            "test-execution",
            Result={"Payload": '{"order":"o-1","tracking":"TRACK-1","charged":30}'},
        )
    return e.events


def boto3_time(moment: dt.datetime) -> str:
    return str(moment)  # json.dumps(response, default=str) of a boto3 datetime: '2025-01-01 00:05:01+00:00'


def cli_time(moment: dt.datetime) -> float:
    return moment.timestamp()  # the AWS CLI prints epoch seconds


@pytest.mark.parametrize("when", [boto3_time, cli_time, lambda m: m.isoformat()], ids=["boto3", "cli", "iso"])
def test_history_events_rebuild_the_operations_the_service_holds(when):
    events = order_events(when)
    loaded = load_history({"Events": events, "NextMarker": None})
    assert loaded.format == "events"
    assert strip_times(loaded.operations) == strip_times(finished_order_history().operations)
    assert loaded.status == "SUCCEEDED"
    assert loaded.result == '{"order":"o-1","tracking":"TRACK-1","charged":30}'
    assert loaded.warnings == ()
    wait = next(op for op in loaded.operations if op.get("Name") == "cool-off")
    assert wait["WaitDetails"]["ScheduledEndTimestamp"] == round((EPOCH + dt.timedelta(seconds=304)).timestamp() * 1000)
    report = replay(order_workflow, loaded)
    report.assert_completed({"order": "o-1", "tracking": "TRACK-1", "charged": 30})


def test_history_events_of_a_running_execution_replay_to_the_pending_retry():
    loaded = load_history(order_events(cli_time, finished=False))  # a bare list of events works too
    charge = next(op for op in loaded.operations if op.get("Name") == "charge")
    assert charge["Status"] == "PENDING"
    assert charge["StepDetails"]["Attempt"] == 1
    assert charge["StepDetails"]["Error"] == {"ErrorType": "TimeoutError", "ErrorMessage": "gateway"}
    assert charge["StepDetails"]["NextAttemptTimestamp"] == charge["StartTimestamp"] + 2_000 + 1_000
    assert loaded.status is None
    replay(order_workflow, loaded).assert_suspended(waiting_on=["charge"])


def test_events_without_execution_data_are_flagged():
    events = order_events(cli_time)
    for event in events:
        for details in [v for k, v in event.items() if k.endswith("Details")]:
            for key in ("Result", "Input"):
                if key in details:
                    details[key] = {"Truncated": False}
    loaded = load_history(events)
    assert any("IncludeExecutionData=True" in w for w in loaded.warnings)


def test_truncated_payloads_are_flagged():
    events = order_events(cli_time)
    events[2]["StepSucceededDetails"]["Result"]["Truncated"] = True
    assert any("truncated" in w and "reserve" in w for w in load_history(events).warnings)


def ms_time(moment: dt.datetime) -> int:
    return round(moment.timestamp() * 1000)  # the invocation event's format


@pytest.mark.parametrize("when", [boto3_time, cli_time, ms_time], ids=["boto3", "cli", "ms"])
def test_state_dumps_with_any_timestamp_format_load_as_epoch_milliseconds(when, tmp_path):
    h = finished_order_history()
    ops = h.operations
    dumped = []
    for original in ops:
        op = dict(original)
        for key in [k for k in op if k.endswith("Timestamp")]:
            op[key] = when(dt.datetime.fromtimestamp(op[key] / 1000, dt.UTC))
        dumped.append(op)
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"Operations": dumped, "NextMarker": None, "ResponseMetadata": {"RequestId": "x"}}))
    loaded = load_history(path)
    assert loaded.source == str(path)
    assert list(loaded.operations) == ops
    replay(order_workflow, str(path)).assert_completed()


def test_an_invocation_event_and_a_state_with_execution_fields_load():
    h = finished_order_history()
    event = h.event()
    event["DurableExecutionArn"] = EXEC_ARN
    loaded = load_history(event)
    assert (loaded.format, loaded.arn, len(loaded)) == ("invocation", EXEC_ARN, len(h))

    described = {
        "DurableExecutionArn": EXEC_ARN,
        "Status": "FAILED",
        "Error": {"ErrorMessage": "x"},
        "Operations": h.operations[1:],
        "InputPayload": json.dumps(ORDER),
    }
    loaded = load_history(json.dumps(described))
    assert loaded.status == "FAILED" and loaded.error == {"ErrorMessage": "x"}
    execution = loaded.operations[0]
    assert execution["Type"] == "EXECUTION" and execution["Id"] == "exec-42"
    assert execution["ExecutionDetails"] == {"InputPayload": json.dumps(ORDER)}
    replay(order_workflow, loaded).assert_completed()


def test_a_history_without_input_replays_with_none_and_says_so():
    loaded = load_history({"Operations": []})
    assert any("input None" in w for w in loaded.warnings)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ('{"Nope": 1}', "is not a recorded history"),
        ('[{"Id": 3}]', "operation #0 is not an Operation with Id and Type"),
        ('[{"EventType": "StepStarted"}]', "has no operation Id"),
        ("{not json", "is not JSON"),
        ("/no/such/file.json", "cannot read the history file /no/such/file.json"),
    ],
)
def test_what_is_not_a_history_is_refused_with_the_reason(source, message):
    with pytest.raises(HistoryFormatError, match=message):
        load_history(source)
