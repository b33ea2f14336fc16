"""The official SDK's payload envelope: written byte for byte, read as the official SDK reads it, its errors mapped.

The official SDK installed next to replayflow is the reference: values are serialized by both and compared as
text; each side reads what the other wrote.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import attrs
import orjson
import pytest
from aws_durable_execution_sdk_python.concurrency.models import BatchItem as OfficialItem
from aws_durable_execution_sdk_python.concurrency.models import BatchItemStatus as OfficialStatus
from aws_durable_execution_sdk_python.concurrency.models import BatchResult as OfficialBatch
from aws_durable_execution_sdk_python.concurrency.models import CompletionReason as OfficialReason
from aws_durable_execution_sdk_python.lambda_service import ErrorObject
from aws_durable_execution_sdk_python.serdes import EXTENDED_TYPES_SERDES as OFFICIAL
from hypothesis import given
from hypothesis import strategies as st

import replayflow
from replayflow import (
    BatchItemStatus,
    BatchResult,
    ChildContextError,
    CompletionReason,
    EnvelopeSerDes,
    SerDesError,
    StepError,
    StepInterruptedError,
)
from replayflow._serdes import DEFAULT_SERDES
from replayflow.testing import History, replay, run, succeed

ENVELOPE = EnvelopeSerDes()
SDK = "aws_durable_execution_sdk_python."

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.binary(max_size=8),
    st.uuids(),
    st.decimals(allow_nan=False, allow_infinity=False, places=3),
    st.datetimes(timezones=st.sampled_from([None, dt.UTC])),
    st.dates(),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.text(max_size=4), inner, max_size=4),
    ),
    max_leaves=12,
)


@given(values)
def test_replayflow_writes_what_the_official_sdk_writes_and_each_reads_the_other(value: Any) -> None:
    ours = ENVELOPE.serialize(value, None)
    assert ours == OFFICIAL.serialize(value)
    assert OFFICIAL.deserialize(ours) == value
    read = ENVELOPE.deserialize(ours, None)
    assert read == value and type(read) is type(value)
    assert DEFAULT_SERDES.deserialize(ours) == value  # the default serdes reads envelopes too


def test_the_documented_tags() -> None:
    when = dt.datetime(2026, 12, 1, 8, 30, tzinfo=dt.UTC)
    text = ENVELOPE.serialize({"at": when, "n": Decimal("1.10"), "pair": (1, None), "raw": b"\x00"}, None)
    assert text == (
        '{"t":"m","v":{"at":{"t":"dt","v":"2026-12-01T08:30:00+00:00"},"n":{"t":"d","v":"1.10"},'
        '"pair":{"t":"t","v":[{"t":"i","v":1},{"t":"n","v":null}]},"raw":{"t":"B","v":"AA=="}}}'
    )
    assert ENVELOPE.serialize([1, "a", [True, None]], None) == '[1,"a",[true,null]]'  # primitives stay plain
    assert ENVELOPE.deserialize('{"t":"dt","v":"2026-12-01T08:30:00Z"}', None) == when  # "Z" accepted
    assert ENVELOPE.deserialize('{"t":"D","v":"2026-12-01"}', None) == dt.date(2026, 12, 1)
    one = uuid.UUID(int=1)
    assert ENVELOPE.deserialize('{"t":"u","v":"' + str(one) + '"}', None) == one


def test_malformed_envelopes_are_typed_errors_naming_the_tag() -> None:
    with pytest.raises(SerDesError, match=r"malformed envelope \{'t': 'd', 'v': 'x'\}"):
        ENVELOPE.deserialize('{"t":"m","v":{"a":{"t":"d","v":"x"}}}', None)
    with pytest.raises(SerDesError, match='Unknown type tag: "zz"'):
        ENVELOPE.deserialize('{"t":"l","v":[{"t":"zz","v":1}]}', None)
    with pytest.raises(SerDesError, match="expected a list"):
        ENVELOPE.deserialize('{"t":"l","v":{"a":1}}', None)
    with pytest.raises(SerDesError, match="Tuple keys"):
        ENVELOPE.serialize({(1, 2): 3}, None)
    with pytest.raises(SerDesError, match="Unsupported type"):
        ENVELOPE.serialize(object(), None)


def test_a_plain_dict_shaped_like_an_envelope_reads_back_as_itself_in_both_sdks() -> None:
    value = {"t": "s", "v": "not an envelope"}
    text = DEFAULT_SERDES.serialize(value)
    assert text.startswith('{"t":"m"')
    assert DEFAULT_SERDES.deserialize(text) == value
    assert OFFICIAL.deserialize(text) == value
    plain = {"t": "s", "v": 1, "w": 2}  # not an envelope: three keys
    assert DEFAULT_SERDES.deserialize(DEFAULT_SERDES.serialize(plain)) == plain


@attrs.frozen
class Order:
    id: str
    placed: dt.datetime
    total: Decimal


def test_typed_results_are_structured_from_envelopes() -> None:
    placed = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    text = OFFICIAL.serialize({"id": "o1", "placed": placed, "total": Decimal("9.99")})
    assert EnvelopeSerDes(Order).deserialize(text, None) == Order("o1", placed, Decimal("9.99"))
    # a step annotated -> Order under replayflow's defaults reads the official SDK's envelope too
    h = History()
    h.step("load", payload=text)

    def load() -> Order:
        raise AssertionError("replayed, not run")

    def wf(_: Any, ctx: replayflow.DurableContext) -> Any:
        return (yield ctx.step(load, name="load"))

    assert replay(wf, h).result == Order("o1", placed, Decimal("9.99"))
    assert replayflow.JsonSerDes(Order).deserialize(DEFAULT_SERDES.serialize(Order("o1", placed, Decimal("1"))))
    # an attrs value written as an envelope is its dict (what the official SDK can read)
    assert OFFICIAL.deserialize(ENVELOPE.serialize(Order("o1", placed, Decimal("1")), None))["id"] == "o1"


def test_batch_results_both_ways() -> None:
    error = ErrorObject("boom", f"{SDK}exceptions.StepError", None, ["line 1"])
    theirs = OfficialBatch(
        [
            OfficialItem(0, OfficialStatus.SUCCEEDED, {"when": dt.date(2026, 1, 1)}),
            OfficialItem(1, OfficialStatus.FAILED, None, error),
            OfficialItem(2, OfficialStatus.STARTED),
        ],
        OfficialReason.FAILURE_TOLERANCE_EXCEEDED,
    )
    text = OFFICIAL.serialize(theirs)
    ours = ENVELOPE.deserialize(text, None)
    assert isinstance(ours, BatchResult)
    assert [i.status for i in ours] == [BatchItemStatus.SUCCEEDED, BatchItemStatus.FAILED, BatchItemStatus.STARTED]
    assert ours.get_results() == [{"when": dt.date(2026, 1, 1)}]
    assert ours.completion_reason is CompletionReason.FAILURE_TOLERANCE_EXCEEDED
    failure = ours.get_errors()[0]
    assert isinstance(failure, ChildContextError) and failure.error_message == "boom"
    assert isinstance(failure.__cause__, StepError)  # the official wrapper class, as replayflow's class
    again = OFFICIAL.deserialize(ENVELOPE.serialize(ours, None))
    assert again.to_dict() == theirs.to_dict()


def test_official_wrapper_error_types_are_raised_as_replayflow_classes() -> None:
    h = History()
    h.step("charge", error={"ErrorType": f"{SDK}exceptions.StepInterruptedError", "ErrorMessage": "interrupted"})
    h.child("nested", error={"ErrorType": f"{SDK}exceptions.StepError", "ErrorMessage": "inner step failed"})
    seen: list[BaseException] = []

    def wf(_: Any, ctx: replayflow.DurableContext) -> Any:
        try:
            yield ctx.step(lambda: 1, name="charge")
        except StepError as exc:
            seen.append(exc)
        try:
            yield ctx.run_in_child_context(lambda c: 1, name="nested")
        except ChildContextError as exc:
            seen.append(exc)
        return "handled"

    report = replay(wf, h)
    assert report.outcome == "completed", report.error
    interrupted, child = seen
    assert type(interrupted) is StepInterruptedError and str(interrupted) == "interrupted"
    assert type(child) is ChildContextError and type(child.__cause__) is StepError
    assert child.error_type == f"{SDK}exceptions.StepError"  # what the history recorded stays visible


def test_an_unreadable_envelope_stops_the_workflow_at_that_operation() -> None:
    h = History()
    h.step("prices", payload='{"t":"l","v":[{"t":"d","v":"1.2.3"}]}')
    ran: list[Any] = []

    def wf(_: Any, ctx: replayflow.DurableContext) -> Any:
        value = yield ctx.step(lambda: [Decimal(1)], name="prices")
        ran.append(value)
        return value

    report = replay(wf, h)
    assert isinstance(report.error, SerDesError)
    assert "cannot read the recorded result of step 'prices'" in str(report.error)
    assert ran == []  # no user code saw anything


def test_an_envelope_in_a_short_payload_is_decoded_on_the_fast_replay_path() -> None:
    h = History()
    h.step("n", payload='{"t":"i","v":5}')  # shorter than the fast path's limit
    h.step("d", payload='{"t":"d","v":"2.5"}')

    def wf(_: Any, ctx: replayflow.DurableContext) -> Any:
        return [(yield ctx.step(lambda: 0, name="n")), (yield ctx.step(lambda: 0, name="d"))]

    assert replay(wf, h).result == [5, Decimal("2.5")]


class Wrapped:
    """A custom serdes that shows where it was used: every payload is ``{"wrapped": value}``."""

    def __init__(self) -> None:
        self.written = 0

    def serialize(self, value: Any, context: Any) -> str:
        self.written += 1
        return orjson.dumps({"wrapped": value}).decode()

    def deserialize(self, data: str, context: Any) -> Any:
        return orjson.loads(data)["wrapped"]


def test_a_handler_wide_serdes_serves_every_operation_and_the_result() -> None:
    serdes = Wrapped()

    def double(payload: Any) -> Any:
        return {"wrapped": payload["wrapped"] * 2}

    def wf(_: Any, ctx: replayflow.DurableContext) -> Any:
        a = yield ctx.step(lambda: 1, name="s")
        b = yield ctx.run_in_child_context(lambda c: 2, name="c")
        m = yield ctx.map([1, 2], lambda c, item, i, items: item * 10, name="m")
        p = yield ctx.parallel([lambda c: "p"], name="p")
        answer = yield ctx.wait_for_callback(lambda callback_id: None, name="cb")
        doubled = yield ctx.invoke("double", 21, name="inv")
        return [a, b, m.get_results(), p.get_results(), answer, doubled]

    handler = replayflow.durable(wf, serdes=serdes)
    result = run(handler, callbacks={"cb": succeed('{"wrapped":"yes"}')}, functions={"double": double})
    assert result.succeeded, result.error
    assert result.result_payload == '{"wrapped":[1,2,[10,20],["p"],"yes",42]}'
    assert result.operation("s").payload == '{"wrapped":1}'
    assert result.operation("c").payload == '{"wrapped":2}'
    assert result.operation("map-item-0").payload == '{"wrapped":10}'
    assert orjson.loads(result.operation("inv").record["ChainedInvokeDetails"]["Result"]) == {"wrapped": 42}
    assert serdes.written >= 7


def test_the_official_format_keeps_callbacks_raw_and_invokes_and_the_result_plain() -> None:
    def target(payload: Any) -> Any:
        return {"got": payload}

    def wf(_: Any, ctx: replayflow.DurableContext) -> Any:
        when = yield ctx.step(lambda: dt.date(2026, 1, 1), name="when")
        answer = yield ctx.wait_for_callback(lambda callback_id: None, name="cb")
        got = yield ctx.invoke("target", {"a": [1]}, name="inv")
        return {"when": when.isoformat(), "answer": answer, "got": got}

    handler = replayflow.durable(wf, serdes=replayflow.OFFICIAL_FORMAT)
    result = run(handler, callbacks={"cb": succeed("raw text")}, functions={"target": target})
    assert result.result == {"when": "2026-01-01", "answer": "raw text", "got": {"got": {"a": [1]}}}
    assert result.operation("when").payload == '{"t":"D","v":"2026-01-01"}'
    assert orjson.loads(result.operation("inv").record["ChainedInvokeDetails"]["Result"]) == {"got": {"a": [1]}}


def test_the_official_format_envelopes_every_step_of_a_loop_over_one_function() -> None:
    # ctx.step keeps the last step's function and serdes for a loop's steps; a payload format must still
    # choose the serdes of each one, on the first run and on the replay.
    def day(n: int) -> dt.date:
        return dt.date(2026, 1, n)

    def wf(_: Any, ctx: replayflow.DurableContext) -> Any:
        days = []
        for n in (1, 2, 3):
            days.append((yield ctx.step(day, n, name=f"day{n}")))
        yield ctx.wait(seconds=1, name="nap")  # suspends: the days are read back from the history
        return [type(d).__name__ for d in days]

    result = run(replayflow.durable(wf, serdes=replayflow.OFFICIAL_FORMAT))
    assert result.result == ["date", "date", "date"]
    assert [result.operation(f"day{n}").payload for n in (1, 2, 3)] == [
        f'{{"t":"D","v":"2026-01-0{n}"}}' for n in (1, 2, 3)
    ]


def test_a_serdes_option_that_is_not_a_serdes_is_refused() -> None:
    with pytest.raises(replayflow.ValidationError, match="serdes must be a SerDes or a PayloadFormat"):
        replayflow.durable(lambda i, c: None, serdes="official")  # type: ignore[call-overload]


def test_a_batch_result_in_neither_format_is_a_clear_error() -> None:
    h = History()
    h.child("m", sub_type="Map", payload='{"type":"MapResult","totalCount":2,"completionReason":"ALL_COMPLETED"}')

    def wf(_: Any, ctx: replayflow.DurableContext) -> Any:
        return (yield ctx.map([1, 2], lambda c, item, i, items: item, name="m"))

    report = replay(wf, h)
    assert isinstance(report.error, SerDesError)
    assert "cannot read the recorded result of map 'm'" in str(report.error)
    assert "not a batch result replayflow can read" in str(report.error)


def test_which_format_a_history_uses() -> None:
    from replayflow._envelope import history_format

    def ops(*payloads: str) -> list[dict[str, Any]]:
        return [{"Id": str(i), "Type": "STEP", "StepDetails": {"Result": p}} for i, p in enumerate(payloads)]

    envelope, plain, scalar = '{"t":"d","v":"1"}', '{"a":1}', "[1,2]"
    assert history_format(ops(envelope, scalar)).kind == "official"
    assert history_format(ops(plain, scalar)).kind == "plain"
    assert history_format(ops(envelope, plain)).kind == "mixed"
    assert history_format(ops(scalar, '"x"')).kind == "either"
    assert history_format(ops(envelope, plain)).describe().startswith("mixed: 1 results in the official SDK's")
