"""pydantic v2 models as step, child-context and branch results: models on the first run and every replay."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pydantic
import pytest

import replayflow
from replayflow.testing import run
from tests.core.wire import event, invoke, op_id, step


class Quote(pydantic.BaseModel):
    carrier: str
    price: float

    @pydantic.field_validator("carrier")
    @classmethod
    def lower(cls, value: str) -> str:
        return value.lower()


class Offer(pydantic.BaseModel):
    quotes: list[Quote]
    best: Quote | None = None


def quote(carrier: str, price: float) -> Quote:
    return Quote.model_construct(carrier=carrier, price=price)  # not validated: the round trip validates


def pick(ctx: replayflow.DurableContext, carrier: str, index: int, items: list[str]) -> replayflow.Workflow[Quote]:
    return (yield ctx.step(quote, carrier, 2.0 + index, name=f"quote-{carrier}"))


def offer(ctx: replayflow.DurableContext) -> Generator[Any, Any, Offer]:
    a = yield ctx.step(quote, "UPS", 9.5, name="a")
    b = yield ctx.step(quote, "DHL", 8.0, name="b")
    return Offer(quotes=[a, b], best=min([a, b], key=lambda q: q.price))


seen: list[Any] = []


@replayflow.durable
def shipping(_: Any, ctx: replayflow.DurableContext) -> replayflow.Workflow[dict[str, Any]]:
    single = yield ctx.step(quote, "FedEx", 11.0)
    seen.append(single)
    best = yield ctx.run_in_child_context(offer, name="offer")
    seen.append(best)
    batch = yield ctx.map(["UPS", "DHL"], pick, name="quotes")
    seen.append(batch.get_results())
    yield ctx.wait(seconds=10)  # a replay of everything above follows
    return {"single": single.carrier, "best": best.best.carrier, "branches": [q.carrier for q in batch.get_results()]}


def test_models_come_back_as_validated_models_on_the_first_run_and_on_replay():
    seen.clear()
    result = run(shipping, None, check_replay=False)  # count the real invocations only
    assert result.assert_succeeded() == {"single": "fedex", "best": "dhl", "branches": ["ups", "dhl"]}
    first, replayed = seen[:3], seen[3:]
    assert len(replayed) == 3  # the invocation after the wait replayed the three results
    for values in (first, replayed):
        single, best, branches = values
        assert single == Quote(carrier="fedex", price=11.0)  # validated: the validator lowered the name
        assert isinstance(best, Offer) and best.best == Quote(carrier="dhl", price=8.0)
        assert all(isinstance(q, Quote) for q in branches)
    assert result.get_step("quote").result == {"carrier": "FedEx", "price": 11.0}  # plain JSON, as returned


def test_a_recorded_payload_that_fails_validation_is_a_clear_serdes_error():
    @replayflow.durable
    def wf(_, ctx):
        return (yield ctx.step(quote, "x", 1.0))

    bad = step(1, "SUCCEEDED", name="quote", result={"carrier": "ups"})  # no price
    out = invoke(wf, event(bad))
    assert out["Status"] == "FAILED"
    assert out["Error"]["ErrorType"] == "replayflow.SerDesError"
    assert "Quote" in out["Error"]["ErrorMessage"] and "price" in out["Error"]["ErrorMessage"]
    assert op_id(1) in out["Error"]["ErrorMessage"]


def test_result_type_names_a_model_for_an_unannotated_function():
    @replayflow.durable
    def wf(_, ctx):
        value = yield ctx.step(lambda: {"carrier": "DHL", "price": "3.5"}, name="raw", result_type=Quote)
        return [type(value).__name__, value.carrier, value.price]

    assert run(wf, None).assert_succeeded() == ["Quote", "dhl", 3.5]


@pytest.mark.parametrize("value", [Quote(carrier="ups", price=1.0), [Quote(carrier="ups", price=1.0)]])
def test_models_serialize_as_plain_json(value):
    assert replayflow.JsonSerDes().serialize(value, None) in (
        '{"carrier":"ups","price":1.0}',
        '[{"carrier":"ups","price":1.0}]',
    )
