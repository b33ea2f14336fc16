"""The workflows the HTTP benchmark runs on both services (see :mod:`benchmarks.http`).

``await_callback`` (replayflow) parks on a callback so that the benchmark's client has an execution, a
history and a callback id to call the read and heartbeat APIs on. ``steps`` (official SDK) runs
``event["n"]`` steps, each one checkpoint through the SDK's own boto3 client: the end-to-end cost of
a workflow whose every checkpoint crosses HTTP.
"""

from __future__ import annotations

from typing import Any

import replayflow


def await_callback(input: Any, ctx: replayflow.DurableContext) -> Any:
    """Create a callback and wait for it (the benchmark stops the execution when it is done)."""
    yield ctx.step(lambda: "ready", name="ready")
    callback = yield ctx.create_callback(name="bench", timeout=3600)
    return (yield callback.result())


def _steps(event: Any, context: Any) -> Any:
    total = 0
    for i in range(int(event["n"])):
        total += context.step(lambda _, i=i: i, name=f"s{i}")
    return total


def official_steps(boto3_client: Any = None) -> Any:
    """The official SDK's ``steps`` handler (with ``boto3_client``, or its default client)."""
    from aws_durable_execution_sdk_python import durable_execution

    return durable_execution(_steps, boto3_client=boto3_client)


try:
    steps = official_steps()  # what ``replayflow serve benchmarks.http_workflows:steps`` hosts
except ImportError:  # the official SDK is not installed: the benchmark skips this row
    steps = None
