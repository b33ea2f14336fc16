"""replayflow and the official AWS Python SDK derive the same operation ids for the same workflow shape.

Both SDKs run the same workflow against the same wire-level responder (the official SDK through its
documented test-injection path, with the library's ``TransportServiceClient``); the operations each one
checkpoints are compared.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

import replayflow
from replayflow import CompletionConfig
from replayflow.local.official_sdk import TransportServiceClient

from .wire import ARN, Recorder, event

official = pytest.importorskip("aws_durable_execution_sdk_python")
from aws_durable_execution_sdk_python import config as oconfig  # noqa: E402
from aws_durable_execution_sdk_python import execution as oexec  # noqa: E402
from aws_durable_execution_sdk_python import waits as owaits  # noqa: E402


class LambdaContext:
    aws_request_id = "req"
    function_name = "orders"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:orders"

    def get_remaining_time_in_millis(self):
        return 600_000


def run_official(workflow) -> list[dict[str, Any]]:
    recorder = Recorder()
    handler = official.durable_execution(workflow)
    invocation = oexec.DurableExecutionInvocationInput.from_json_dict(orjson.loads(orjson.dumps(event())))
    injected = oexec.DurableExecutionInvocationInputWithClient.from_durable_execution_invocation_input(
        invocation, TransportServiceClient(recorder.transport)
    )
    handler(injected, LambdaContext())
    return recorder.updates


def run_replayflow(workflow) -> list[dict[str, Any]]:
    recorder = Recorder()
    with replayflow.use_transport(recorder.transport):
        replayflow.durable(workflow)(event(), None)
    return recorder.updates


def identities(updates: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
    return {(u["Id"], u["Type"], u.get("SubType"), u.get("ParentId"), u.get("Name")) for u in updates}


def test_steps_children_batches_callbacks_and_conditions_get_the_same_ids():
    def official_workflow(event, ctx):
        ctx.step(lambda sc: 1, name="first")
        ctx.step(lambda sc: 2, name="second")
        ctx.run_in_child_context(lambda c: c.step(lambda sc: 3, name="inner"), name="child")
        ctx.parallel(
            [lambda c: c.step(lambda sc: "p0", name="p0"), lambda c: c.step(lambda sc: "p1", name="p1")],
            name="par",
            config=oconfig.ParallelConfig(max_concurrency=1),
        )
        ctx.map(
            ["a", "b"],
            lambda c, item, i, items: c.step(lambda sc: item, name=f"m{i}"),
            name="mapped",
            config=oconfig.MapConfig(max_concurrency=1, completion_config=oconfig.CompletionConfig.all_completed()),
        )
        ctx.wait_for_condition(
            lambda state, cc: state + 1,
            name="cond",
            config=owaits.WaitForConditionConfig(
                wait_strategy=lambda s, a: owaits.WaitForConditionDecision.stop_polling(), initial_state=0
            ),
        )
        ctx.create_callback(name="cb")
        return ctx.wait_for_callback(lambda callback_id, wctx: None, name="approval")

    def our_workflow(_, ctx):
        yield ctx.step(lambda: 1, name="first")
        yield ctx.step(lambda: 2, name="second")

        def child(c):
            return (yield c.step(lambda: 3, name="inner"))

        yield ctx.run_in_child_context(child, name="child")

        def p(name):
            def branch(c):
                return (yield c.step(lambda: name, name=name))

            return branch

        yield ctx.parallel([p("p0"), p("p1")], name="par", max_concurrency=1)

        def m(c, item, i, items):
            return (yield c.step(lambda: item, name=f"m{i}"))

        yield ctx.map(["a", "b"], m, name="mapped", max_concurrency=1, completion=CompletionConfig.all_completed())
        yield ctx.wait_for_condition(lambda s: s + 1, initial_state=0, name="cond", wait_strategy=lambda s, a: None)
        yield ctx.create_callback(name="cb")
        return (yield ctx.wait_for_callback(lambda callback_id: None, name="approval"))

    theirs = identities(run_official(official_workflow))
    ours = identities(run_replayflow(our_workflow))
    assert len(ours) >= 19
    assert ours == theirs


def test_an_invoke_gets_the_same_id_and_shape():
    def official_workflow(event, ctx):
        ctx.step(lambda sc: 1, name="first")
        return ctx.invoke("target:1", {"x": 1}, name="call")

    def our_workflow(_, ctx):
        yield ctx.step(lambda: 1, name="first")
        return (yield ctx.invoke("target:1", {"x": 1}, name="call"))

    theirs = [u for u in run_official(official_workflow) if u["Type"] == "CHAINED_INVOKE"]
    ours = [u for u in run_replayflow(our_workflow) if u["Type"] == "CHAINED_INVOKE"]
    assert identities(ours) == identities(theirs)
    assert ours[0]["ChainedInvokeOptions"]["FunctionName"] == theirs[0]["ChainedInvokeOptions"]["FunctionName"]
    assert orjson.loads(ours[0]["Payload"]) == orjson.loads(theirs[0]["Payload"])
    assert ARN
