"""The stored form of an execution (``replayflow.local.stored``): a cattrs round trip, version 1 forms
(written before the form had a version) still read, later versions refused clearly."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import attrs
import orjson
import pytest

from replayflow.local import LocalDurableService, SqliteStore, StoreError
from replayflow.local.records import (
    CallbackDeadlines,
    ChainedTarget,
    Completion,
    Execution,
    Invocation,
    ParentLink,
)
from replayflow.local.stored import VERSION, from_stored, stored_form

from .workflows import approval


def full_execution() -> Execution:
    """An execution with every stored field set, and some process-only state."""
    ex = Execution(
        arn="arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST/durable-execution/n/1",
        function_name="f",
        name="n",
        id="1",
        region="us-east-1",
        account="123456789012",
        input_payload='{"a": 1}',
        start_ms=1_000,
        timeout=60,
        tenant_id="tenant",
        parent=ParentLink("arn:parent", "op-parent"),
        status="RUNNING",
        end_ms=None,
        result=None,
        error={"ErrorType": "E", "ErrorMessage": "m"},
        completion=Completion("FAILED", None, {"ErrorType": "E"}),
        children={"c1": ChainedTarget("execution", "arn:child"), "c2": ChainedTarget("plain", "adder")},
        pending={"b", "a"},
        callbacks={"cb": CallbackDeadlines(10, 5, 11_000, 6_000)},
        updated_ids=["x", "y"],
        invocation=Invocation("req-1", 900),
        queued=False,
        failures=2,
        invocations=3,
        retry_due=7_000,
        operations=4,
        bytes_written=99,
    )
    ex.wake = True  # a wake waiting for the invocation in flight
    ex.add_op({"Id": "1", "Type": "EXECUTION", "Status": "STARTED", "StartTimestamp": 1_000})
    ex.tokens.open()
    return ex


def stored_fields(ex: Execution) -> dict[str, Any]:
    return {field.name: getattr(ex, field.name) for field in attrs.fields(Execution) if field.init}


def test_the_stored_form_round_trips_through_json() -> None:
    ex = full_execution()
    form = orjson.loads(orjson.dumps(stored_form(ex)))
    assert form["version"] == VERSION
    assert form["pending"] == ["a", "b"]  # sorted: the same execution is always stored the same way
    assert form["children"] == {"c1": ["execution", "arn:child"], "c2": ["plain", "adder"]}
    assert form["callbacks"] == {"cb": [10, 5, 11_000, 6_000]}
    assert form["queued"] is True  # queued or wake
    assert not {"ops", "order", "changes", "seen", "events", "tokens", "running", "wake", "progress"} & set(form)
    back = from_stored(form)
    expected = stored_fields(ex)
    expected["queued"] = True
    assert stored_fields(back) == expected
    assert isinstance(back.parent, ParentLink) and isinstance(back.invocation, Invocation)
    assert back.callbacks["cb"].heartbeat_due == 6_000 and back.children["c2"].kind == "plain"
    assert back.ops == {} and back.tokens.current is None and not back.wake  # not stored


def version_1_form() -> dict[str, Any]:
    """What ``Execution.meta()`` wrote before the stored form had a version."""
    return {
        "arn": "arn:v1",
        "function_name": "f",
        "name": "n",
        "id": "1",
        "region": "us-east-1",
        "account": "123456789012",
        "input_payload": None,
        "start_ms": 5,
        "timeout": 60,
        "tenant_id": None,
        "parent": ["arn:parent", "op-parent"],
        "children": {"c1": "arn:child", "c2": "plain:adder"},
        "status": "RUNNING",
        "end_ms": None,
        "result": None,
        "error": None,
        "pending": ["c2"],
        "callbacks": {"cb": [0, 30, 0, 30_005]},
        "updated_ids": [],
        "completion": ["SUCCEEDED", '"done"', None],
        "invocation": ["req-9", 5],
        "queued": True,
        "failures": 0,
        "invocations": 1,
        "retry_due": 0,
    }  # no "operations" / "bytes_written": stores written before usage was metered


def test_a_version_1_form_is_read() -> None:
    ex = from_stored(version_1_form())
    assert ex.children == {"c1": ChainedTarget("execution", "arn:child"), "c2": ChainedTarget("plain", "adder")}
    assert ex.parent == ParentLink("arn:parent", "op-parent")
    assert ex.callbacks == {"cb": CallbackDeadlines(0, 30, 0, 30_005)}
    assert ex.completion == Completion("SUCCEEDED", '"done"', None)
    assert ex.invocation == Invocation("req-9", 5)
    assert ex.pending == {"c2"} and ex.queued
    assert (ex.operations, ex.bytes_written) == (0, 0)


def test_a_store_with_version_1_rows_is_resumed(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    first = LocalDurableService(store=str(path))
    first.register("approval", approval)
    arn = first.start_execution("approval", "{}")
    first.advance(0)  # suspended on its callback
    first.close()
    db = sqlite3.connect(path)
    (meta,) = db.execute("SELECT meta FROM executions WHERE arn = ?", (arn,)).fetchone()
    form = orjson.loads(meta)
    del form["version"], form["operations"], form["bytes_written"]
    db.execute("UPDATE executions SET meta = ? WHERE arn = ?", (orjson.dumps(form), arn))
    db.commit()
    db.close()
    second = LocalDurableService(store=str(path))
    second.register("approval", approval)
    events = second.get_durable_execution_history(DurableExecutionArn=arn)["Events"]
    callback_id = next(e["CallbackStartedDetails"]["CallbackId"] for e in events if e["EventType"] == "CallbackStarted")
    second.send_durable_execution_callback_success(CallbackId=callback_id, Result=b'"yes"')
    assert second.wait(arn, timeout=60).value == '"yes"'
    second.close()


def test_a_form_of_a_later_version_is_refused_clearly(tmp_path: Path) -> None:
    form = version_1_form()
    form["version"] = VERSION + 1
    with pytest.raises(StoreError, match=f"form version {VERSION + 1} by a newer replayflow"):
        from_stored(form)
    path = tmp_path / "state.db"
    SqliteStore(path).close()
    db = sqlite3.connect(path)
    db.execute("INSERT INTO executions (arn, meta) VALUES (?, ?)", ("arn:v1", orjson.dumps(form)))
    db.commit()
    db.close()
    with pytest.raises(StoreError, match=r"state\.db holds an execution stored in form version"):
        LocalDurableService(store=str(path), read_only=True)


@pytest.mark.parametrize(
    "change",
    [
        {"children": {"c1": ["elsewhere", "arn:child"]}},
        {"callbacks": {"cb": [1, 2]}},
        {"parent": "arn:parent"},
        {"start_ms": None},
    ],
)
def test_an_unreadable_form_is_a_store_error(change: dict[str, Any]) -> None:
    form = {**version_1_form(), **change}
    with pytest.raises(StoreError, match="an unreadable execution"):
        from_stored(form)
