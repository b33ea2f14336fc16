"""Serialization: JSON round trips, typed structuring, classified errors."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import uuid

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from replayflow import JsonSerDes, PassThroughSerDes, SerDesError
from replayflow._serdes import needs_structuring, return_type

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_json_values_round_trip(value):
    serdes = JsonSerDes()
    assert serdes.deserialize(serdes.serialize(value, None), None) == value


class Color(enum.Enum):
    RED = "red"


@attrs.frozen
class Line:
    sku: str
    qty: int
    price: decimal.Decimal


@dataclasses.dataclass
class Order:
    id: uuid.UUID
    placed: dt.datetime
    lines: list[Line]
    color: Color
    tags: frozenset[str]
    note: str | None = None


def test_typed_values_round_trip_through_cattrs():
    order = Order(
        uuid.uuid4(),
        dt.datetime(2026, 5, 1, tzinfo=dt.UTC),
        [Line("a", 2, decimal.Decimal("9.99"))],
        Color.RED,
        frozenset({"x"}),
    )
    serdes = JsonSerDes(Order)
    text = serdes.serialize(order, None)
    assert '"price":"9.99"' in text
    assert serdes.deserialize(text, None) == order


def test_plain_json_types_skip_cattrs():
    assert not needs_structuring(dict[str, list[int]])
    assert not needs_structuring(int | None)
    assert needs_structuring(Order)
    assert needs_structuring(list[Order])
    assert needs_structuring(tuple[int, int])


def test_return_annotations_are_read_once_per_function():
    def f() -> Order:
        raise AssertionError

    def g() -> dict[str, int]:
        return {}

    assert return_type(f) is Order
    assert return_type(g) is None
    assert return_type(lambda: 1) is None
    assert return_type(len) is None


def test_big_integers_survive():
    serdes = JsonSerDes()
    assert serdes.deserialize(serdes.serialize(2**80, None), None) == 2**80


def test_unserializable_values_raise_serdes_errors():
    with pytest.raises(SerDesError, match="object"):
        JsonSerDes().serialize(object(), None)


def test_corrupt_payloads_raise_serdes_errors():
    with pytest.raises(SerDesError, match="not valid JSON"):
        JsonSerDes().deserialize("{oops", None)
    with pytest.raises(SerDesError, match="cannot read payload as"):
        JsonSerDes(Line).deserialize('{"sku": 1}', None)


def test_pass_through_keeps_strings():
    assert PassThroughSerDes().deserialize('{"a": 1}', None) == '{"a": 1}'
    with pytest.raises(SerDesError):
        PassThroughSerDes().serialize(1, None)


@pytest.mark.parametrize("value", [-(2**63) - 1, 2**64, -(10**30), [1, 10**25, "x" * 30], {"n": 99999999999999999999}])
def test_integers_beyond_64_bits_stay_exact(value):
    serdes = JsonSerDes()
    back = serdes.deserialize(serdes.serialize(value, None), None)
    assert back == value
    assert repr(back) == repr(value)  # not floats


def test_a_replayed_step_result_with_a_huge_integer_is_exact():
    import replayflow

    from .wire import event, invoke, step

    @replayflow.durable
    def wf(_, ctx):
        value = yield ctx.step(lambda: 0, name="big")
        return str(value)

    out = invoke(wf, event(step(1, name="big", raw="-9223372036854775809")))
    assert out["Result"] == '"-9223372036854775809"'
