"""Deliberately non-conforming workflows: the harness's own tests check that the validator rejects them."""

from __future__ import annotations

import json
from typing import Any

import replayflow
from replayflow import DurableContext, InvocationInfo, JsonSerDes, Plugin, step_context
from tests.conformance.registry import Requirement, logical_name


def _greet_wrong(name: str) -> str:
    return f"Hi, {name}!"


@replayflow.durable
def wrong_greeting(event: str, ctx: DurableContext) -> Any:
    """1-1 with the wrong result."""
    return (yield ctx.step(_greet_wrong, event))


def _logs_twice(name: str) -> str:
    logger = step_context().logger
    for _ in range(2):
        logger.info(f"Greeting step started for: {name}")
    logger.info(f"Greeting step completed with: Hello, {name}!")
    return f"Hello, {name}!"


@replayflow.durable
def logs_twice(event: str, ctx: DurableContext) -> Any:
    """1-7 logging its first line twice."""
    return (yield ctx.step(_logs_twice, event))


@replayflow.durable
def wrong_callback_name(event: str, ctx: DurableContext) -> Any:
    """4-1 naming its callback differently from the input."""
    callback = yield ctx.create_callback(name=f"not-{event}", serdes=JsonSerDes())
    return (yield callback.result())


class _ArnlessPlugin(Plugin):
    def on_invocation_start(self, info: InvocationInfo) -> None:
        print(json.dumps({"plugin": "CONFPLUGIN", "hook": "invocation-start", "first": info.is_first_invocation}))

    def on_invocation_end(self, info: InvocationInfo, status: str) -> None:
        print(json.dumps({"plugin": "CONFPLUGIN", "hook": "invocation-end", "status": status}))


def _greet(name: str) -> str:
    step_context().logger.info(f"Greeting step running for: {name}")
    return f"Hello, {name}!"


@replayflow.durable(plugins=[_ArnlessPlugin()])
def plugin_without_arn(event: str, ctx: DurableContext) -> Any:
    """10-1 whose plugin lines carry no execution ARN (CloudWatch's execution filter cannot find them)."""
    return (yield ctx.step(_greet, event))


def broken(rid: str, handler: Any) -> dict[str, Requirement]:
    """A one-entry registry: requirement ``rid`` served by ``handler`` (a module-level function of this module)."""
    return {rid: Requirement(rid, logical_name(handler.__name__), handler, f"{__name__}:{handler.__name__}")}
