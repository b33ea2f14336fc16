"""Suite ``plugin`` (10-x): instrumentation plugins that print JSON lines to stdout from their hooks."""

from __future__ import annotations

import json
from typing import Any

import replayflow
from replayflow import DurableContext, InvocationInfo, OperationInfo, Plugin, RetryPresets, step_context
from tests.conformance.registry import requirement


def emit(**record: Any) -> None:
    """One JSON object per line on stdout, as a Lambda function's log line."""
    print(json.dumps(record), flush=True)


class LifecyclePlugin(Plugin):
    """Prints invocation-start (with whether it is the first invocation) and invocation-end (with the status)."""

    def __init__(self, tag: str = "CONFPLUGIN", *, first: bool = True) -> None:
        self.tag = tag
        self.first = first

    def on_invocation_start(self, info: InvocationInfo) -> None:
        extra = {"first": info.is_first_invocation} if self.first else {}
        emit(plugin=self.tag, hook="invocation-start", **extra, durableExecutionArn=info.execution_arn)

    def on_invocation_end(self, info: InvocationInfo, status: str) -> None:
        emit(plugin=self.tag, hook="invocation-end", status=status, durableExecutionArn=info.execution_arn)


class OperationPlugin(Plugin):
    """Prints operation-start / operation-end for steps."""

    def on_operation_start(self, op: OperationInfo) -> None:
        if op.type == "STEP":
            emit(plugin="CONFPLUGIN", hook="operation-start", op=op.operation_id, durableExecutionArn=op.execution_arn)

    def on_operation_end(self, op: OperationInfo, status: str, error: BaseException | None) -> None:
        if op.type == "STEP":
            emit(
                plugin="CONFPLUGIN",
                hook="operation-end",
                op=op.operation_id,
                status=status,
                durableExecutionArn=op.execution_arn,
            )


class AttemptPlugin(Plugin):
    """Prints attempt-start / attempt-end (with the attempt number and outcome) for steps."""

    def on_attempt_start(self, op: OperationInfo, attempt: int) -> None:
        if op.type == "STEP":
            emit(
                plugin="CONFPLUGIN",
                hook="attempt-start",
                n=attempt,
                op=op.operation_id,
                durableExecutionArn=op.execution_arn,
            )

    def on_attempt_end(self, op: OperationInfo, attempt: int, status: str, error: BaseException | None) -> None:
        if op.type == "STEP":
            emit(
                plugin="CONFPLUGIN",
                hook="attempt-end",
                n=attempt,
                outcome=status,
                op=op.operation_id,
                durableExecutionArn=op.execution_arn,
            )


class PluginFailure(Exception):
    """What the faulty plugin raises from every hook."""


class FaultyPlugin(Plugin):
    """Prints a line from every hook, then raises."""

    TAG = "CONFPLUGIN-FAULTY"

    def _fail(self, hook: str, arn: str) -> None:
        emit(plugin=self.TAG, hook=hook, durableExecutionArn=arn)
        raise PluginFailure(f"{hook} hook failed on purpose")

    def on_invocation_start(self, info: InvocationInfo) -> None:
        self._fail("invocation-start", info.execution_arn)

    def on_invocation_end(self, info: InvocationInfo, status: str) -> None:
        self._fail("invocation-end", info.execution_arn)

    def on_operation_start(self, op: OperationInfo) -> None:
        if op.type == "STEP":
            self._fail("operation-start", op.execution_arn)

    def on_operation_end(self, op: OperationInfo, status: str, error: BaseException | None) -> None:
        if op.type == "STEP":
            self._fail("operation-end", op.execution_arn)

    def on_attempt_start(self, op: OperationInfo, attempt: int) -> None:
        if op.type == "STEP":
            self._fail("attempt-start", op.execution_arn)

    def on_attempt_end(self, op: OperationInfo, attempt: int, status: str, error: BaseException | None) -> None:
        if op.type == "STEP":
            self._fail("attempt-end", op.execution_arn)


def greet(name: str) -> str:
    step_context().logger.info(f"Greeting step running for: {name}")
    return f"Hello, {name}!"


def unreliable_func() -> str:
    if step_context().attempt == 1:
        raise RuntimeError("the first attempt fails")
    return "Operation succeeded"


def failing_func() -> str:
    raise RuntimeError("this step always fails")


@requirement("10-1")
@replayflow.durable(plugins=[LifecyclePlugin()])
def plugin_invocation_hooks(event: str, ctx: DurableContext) -> Any:
    return (yield ctx.step(greet, event))


@requirement("10-2")
@replayflow.durable(plugins=[OperationPlugin()])
def plugin_operation_hooks(event: str, ctx: DurableContext) -> Any:
    return (yield ctx.step(greet, event))


@requirement("10-3")
@replayflow.durable(plugins=[AttemptPlugin()])
def plugin_attempt_hooks(event: Any, ctx: DurableContext) -> Any:
    return (yield ctx.step(unreliable_func, retry=RetryPresets.fixed(delay=1, max_attempts=3)))


@requirement("10-4")
@replayflow.durable(plugins=[FaultyPlugin()])
def plugin_exceptions_swallowed(event: str, ctx: DurableContext) -> Any:
    return (yield ctx.step(greet, event))


@requirement("10-5")
@replayflow.durable(
    plugins=[LifecyclePlugin("CONFPLUGIN-A", first=False), LifecyclePlugin("CONFPLUGIN-B", first=False)]
)
def plugin_multiple(event: str, ctx: DurableContext) -> Any:
    return (yield ctx.step(greet, event))


@requirement("10-6")
@replayflow.durable(plugins=[LifecyclePlugin()])
def plugin_first_invocation(event: Any, ctx: DurableContext) -> Any:
    yield ctx.wait(seconds=2)


@requirement("10-7")
@replayflow.durable(plugins=[LifecyclePlugin()])
def plugin_failed_status(event: Any, ctx: DurableContext) -> Any:
    return (yield ctx.step(failing_func, retry=RetryPresets.none()))
