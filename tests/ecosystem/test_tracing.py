"""OpenTelemetry spans from the tracing plugin, read back with the SDK's in-memory exporter."""

from __future__ import annotations

import io
import json
import logging

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import replayflow
from replayflow import RetryPolicy
from replayflow.testing import run
from replayflow.tracing import OpenTelemetryPlugin, execution_trace_id


class Flaky(Exception):
    pass


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


def make_workflow(provider, calls):
    def flaky():
        calls.append("flaky")
        if calls.count("flaky") < 3:
            raise Flaky(f"attempt {calls.count('flaky')}")
        return "ok"

    def price(item):
        calls.append(item)
        return item * 2

    def branch(ctx, item, index, items):
        return (yield ctx.step(price, item, name=f"price-{item}"))

    @replayflow.durable(plugins=[OpenTelemetryPlugin(tracer_provider=provider)])
    def wf(_, ctx):
        value = yield ctx.step(flaky, retry=RetryPolicy(max_attempts=4, initial_delay=1, jitter="NONE"))
        yield ctx.wait(seconds=10, name="cool-off")
        prices = yield ctx.map([1, 2], branch, name="prices")
        return [value, prices.get_results()]

    return wf


def attrs(span):
    return dict(span.attributes)


def test_one_span_per_attempt_that_runs_none_for_replays_and_one_trace_per_execution(spans):
    provider, exporter = spans
    calls = []
    result = run(make_workflow(provider, calls), None)
    assert result.assert_succeeded() == ["ok", [2, 4]]
    finished = exporter.get_finished_spans()
    invocations = [s for s in finished if s.name == "replayflow.invocation"]
    assert len(invocations) == 4  # two retries and the wait each end an invocation
    trace_ids = {s.context.trace_id for s in finished}
    assert trace_ids == {execution_trace_id(result.arn)}  # every span of every invocation, one trace

    flaky = [s for s in finished if s.name == "step flaky"]
    assert [attrs(s)["replayflow.attempt"] for s in flaky] == [1, 2, 3]  # one per attempt, none on replay
    assert [attrs(s)["replayflow.outcome"] for s in flaky] == ["FAILED", "FAILED", "SUCCEEDED"]
    failed = flaky[0]
    assert failed.status.status_code is StatusCode.ERROR
    assert [e.name for e in failed.events] == ["exception"]
    assert failed.events[0].attributes["exception.type"].endswith("Flaky")
    assert flaky[2].status.status_code is StatusCode.UNSET
    first = attrs(flaky[0])
    assert first["replayflow.execution_arn"] == result.arn
    assert first["replayflow.operation_type"] == "STEP" and first["replayflow.operation_name"] == "flaky"
    assert first["replayflow.operation_id"] == result.get_step("flaky").id
    by_id = {s.context.span_id: s for s in invocations}
    assert all(s.parent.span_id in by_id for s in flaky)  # each under its own invocation's span
    assert len({s.parent.span_id for s in flaky}) == 3

    wait = [s for s in finished if s.name == "wait cool-off"]
    assert len(wait) == 1 and attrs(wait[0])["replayflow.outcome"] == "PENDING"  # it went on after the invocation

    mapped = [s for s in finished if s.name == "map prices"]
    assert len(mapped) == 1 and attrs(mapped[0])["replayflow.outcome"] == "SUCCEEDED"
    items = sorted((s for s in finished if s.name.startswith("step price-")), key=lambda s: s.name)
    assert [s.name for s in items] == ["step price-1", "step price-2"]
    assert all(s.parent.span_id == mapped[0].parent.span_id for s in items)  # the same invocation
    assert calls == ["flaky", "flaky", "flaky", 1, 2]


def test_under_an_active_span_the_invocation_is_its_child_and_links_to_the_execution_trace(spans):
    provider, exporter = spans
    tracer = provider.get_tracer("lambda")

    @replayflow.durable(plugins=[OpenTelemetryPlugin(tracer_provider=provider)])
    def wf(_, ctx):
        return (yield ctx.step(lambda: 1, name="one"))

    with tracer.start_as_current_span("lambda-handler") as outer:
        result = run(wf, None)
    finished = exporter.get_finished_spans()
    invocation = next(s for s in finished if s.name == "replayflow.invocation")
    assert invocation.parent.span_id == outer.get_span_context().span_id
    assert [link.context.trace_id for link in invocation.links] == [execution_trace_id(result.arn)]
    step = next(s for s in finished if s.name == "step one")
    assert step.parent.span_id == invocation.context.span_id


def test_spans_made_inside_a_step_body_are_children_of_its_attempt(spans):
    provider, exporter = spans
    tracer = provider.get_tracer("app")

    def body():
        with tracer.start_as_current_span("http-call"):
            return 1

    @replayflow.durable(plugins=[OpenTelemetryPlugin(tracer_provider=provider)])
    def wf(_, ctx):
        return (yield ctx.step(body))

    run(wf, None).assert_succeeded()
    finished = {s.name: s for s in exporter.get_finished_spans()}
    assert finished["http-call"].parent.span_id == finished["step body"].context.span_id


def test_beside_powertools_logger_and_tracer(spans, monkeypatch):
    from aws_lambda_powertools import Logger, Tracer

    provider, exporter = spans
    stream = io.StringIO()
    logger = Logger(service="tracing-beside-powertools", logger_handler=logging.StreamHandler(stream))
    tracer = Tracer(
        service="tracing-beside-powertools", disabled=True
    )  # X-Ray needs its daemon; the decorators still wrap

    def reserve(n):
        replayflow.step_context().logger.info("reserving %s", n)
        return n

    @replayflow.durable(logger=logger, plugins=[OpenTelemetryPlugin(tracer_provider=provider)])
    @tracer.capture_method
    def wf(order, ctx):
        ctx.logger.info("order received")
        return (yield ctx.step(reserve, order["n"]))

    assert run(wf, {"n": 3}).assert_succeeded() == 3
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    messages = {line["message"]: line for line in lines}
    assert messages["reserving 3"]["operationName"] == "reserve" and "executionArn" in messages["reserving 3"]
    assert "order received" in messages
    assert {s.name for s in exporter.get_finished_spans()} == {"replayflow.invocation", "step reserve"}


class LambdaContext:
    function_name = "orders"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:orders"
    memory_limit_in_mb = 128
    aws_request_id = "req-42"
    log_group_name = "/aws/lambda/orders"
    log_stream_name = "stream"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def test_a_handler_wrapped_by_powertools_decorators(spans):
    from aws_lambda_powertools import Logger, Tracer
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    from tests.core.wire import Recorder, event, invoke

    provider, exporter = spans
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = Logger(
        service="tracing-wrapped-by-powertools", logger_handler=handler, logger_formatter=LambdaPowertoolsFormatter()
    )
    tracer = Tracer(service="tracing-wrapped-by-powertools", disabled=True)

    @replayflow.durable(logger=logger, plugins=[OpenTelemetryPlugin(tracer_provider=provider)])
    def wf(_, ctx):
        ctx.logger.info("started")
        return (yield ctx.step(lambda: "done", name="work"))

    wrapped = logger.inject_lambda_context(tracer.capture_lambda_handler(wf))
    out = invoke(wrapped, event(), Recorder(), context=LambdaContext())
    assert out["Status"] == "SUCCEEDED"
    line = next(json.loads(x) for x in stream.getvalue().splitlines() if "started" in x)
    assert line["function_request_id"] == "req-42" and "executionArn" in line
    invocation = next(s for s in exporter.get_finished_spans() if s.name == "replayflow.invocation")
    assert invocation.attributes["faas.invocation_id"] == "req-42"


def test_steps_in_a_child_context_are_children_of_its_span_and_failures_are_recorded(spans):
    provider, exporter = spans

    def boom():
        raise ValueError("card declined")

    def billing(ctx):
        yield ctx.step(lambda: 1, name="authorize")
        yield ctx.step(boom, retry=replayflow.RetryPresets.none())

    @replayflow.durable(plugins=[OpenTelemetryPlugin(tracer_provider=provider)])
    def wf(_, ctx):
        try:
            yield ctx.run_in_child_context(billing, name="billing")
        except replayflow.ChildContextError:
            return "declined"

    assert run(wf, None).assert_succeeded() == "declined"
    finished = {s.name: s for s in exporter.get_finished_spans()}
    context = finished["context billing"]
    assert finished["step authorize"].parent.span_id == context.context.span_id
    assert finished["step boom"].parent.span_id == context.context.span_id
    assert finished["step boom"].status.status_code is StatusCode.ERROR
    assert context.attributes["replayflow.outcome"] == "FAILED" and context.status.status_code is StatusCode.ERROR
    assert finished["step boom"].events[0].attributes["exception.message"] == "card declined"
