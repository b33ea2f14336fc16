"""capture_logs(): ctx.logger and step loggers' records as dicts."""

from __future__ import annotations

import logging
from typing import Any

import replayflow
from replayflow.testing import History, capture_logs


class Accepting:
    """Just enough of a service for one invocation: every checkpoint is accepted."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        self.count += 1
        return {"CheckpointToken": f"t-{self.count}", "NewExecutionState": {"Operations": []}}


def pay(amount: int) -> int:
    log = replayflow.step_context().logger
    log.info("charging %s", amount, extra={"currency": "EUR"})
    try:
        raise ConnectionError("retrying the gateway")
    except ConnectionError:
        log.exception("gateway hiccup")
    return amount


@replayflow.durable
def logging_workflow(order: dict[str, Any], ctx: replayflow.DurableContext) -> Any:
    ctx.logger.debug("starting")
    ctx.logger.info("order %s", order["id"])

    def billing(child: replayflow.DurableContext) -> Any:
        child.logger.warning("in billing")
        return (yield child.step(pay, order["amount"], name="pay"))

    return (yield ctx.run_in_child_context(billing, name="billing"))


def run_once(history: History) -> dict[str, Any]:
    with replayflow.use_transport(replayflow.MockTransport(Accepting())):
        return logging_workflow(history.event(), None)


def test_workflow_and_step_records_carry_their_fields():
    h = History({"id": "o-9", "amount": 12})
    with capture_logs() as logs:
        assert run_once(h)["Status"] == "SUCCEEDED"
    assert logs.messages == ["starting", "order o-9", "in billing", "charging 12", "gateway hiccup"]
    start, order, billing, charging, hiccup = logs
    assert start == {"message": "starting", "level": "debug", "logger": "replayflow.workflow", "executionArn": h.arn}
    assert order["level"] == "info" and order["executionArn"] == h.arn
    billing_id = replayflow._ids.operation_id(None, 1)
    assert billing["parentId"] == billing_id and billing["level"] == "warning"
    pay_id = replayflow._ids.operation_id(billing_id, 1)
    assert charging == {
        "message": "charging 12",
        "level": "info",
        "logger": "replayflow.workflow",
        "executionArn": h.arn,
        "operationId": pay_id,
        "operationName": "pay",
        "attempt": 1,
        "currency": "EUR",
    }
    assert isinstance(hiccup["exception"], ConnectionError) and hiccup["level"] == "error"
    assert logs.filter(operationName="pay", level="info") == [charging]
    assert logs.filter(operationName="nope") == []


def test_the_level_and_the_logger_are_restored_and_the_threshold_applies():
    target = logging.getLogger("replayflow.workflow")
    before = target.level
    with capture_logs(level=logging.WARNING) as logs:
        run_once(History({"id": "o-1", "amount": 1}))
    assert logs.messages == ["in billing", "gateway hiccup"]
    assert target.level == before
    assert not any(type(h).__name__ == "_Handler" for h in target.handlers)


def test_any_stdlib_logger_can_be_captured():
    with capture_logs("my.app") as logs:
        logging.getLogger("my.app.sub").info("hello %s", "world")
        logging.getLogger("elsewhere").info("not this")
    assert logs == [{"message": "hello world", "level": "info", "logger": "my.app.sub"}]
