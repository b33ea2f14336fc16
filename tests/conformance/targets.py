"""The functions the invoke suite's workflows call with ``ctx.invoke``.

On AWS these are separate Lambda functions whose names the SAM template hands to the caller; here they
are registered with the local durable service under the names below. The durable targets run as child
executions of the caller (ChainedInvokeStarted carries their DurableExecutionArn); plain ones are ordinary
Lambda handlers.
"""

from __future__ import annotations

from typing import Any

import replayflow

from .registry import target

#: Returns its input unchanged.
ECHO = "conformance-echo"
#: Always fails.
FAIL = "conformance-fail"
#: Reports the size of the (large) payload it received.
MEASURE = "conformance-measure"
#: Uppercases its (string) input.
UPPERCASE = "conformance-uppercase"
#: A plain (non-durable) Lambda handler that echoes its input.
PLAIN_ECHO = "conformance-plain-echo"


class TargetError(Exception):
    """What the failing target raises."""


@target(ECHO, durable=True)
@replayflow.durable
def echo(event: Any, ctx: replayflow.DurableContext) -> Any:
    return event


@target(FAIL, durable=True)
@replayflow.durable
def fail(event: Any, ctx: replayflow.DurableContext) -> Any:
    raise TargetError("the target function failed")


def _size(payload: Any) -> int:
    return len(payload) if isinstance(payload, str | list | dict) else 0


@target(MEASURE, durable=True)
@replayflow.durable
def measure(event: Any, ctx: replayflow.DurableContext) -> Any:
    size = yield ctx.step(_size, event)
    return {"received": size}


@target(UPPERCASE, durable=True)
@replayflow.durable
def uppercase(event: Any, ctx: replayflow.DurableContext) -> Any:
    return str(event).upper()


@target(PLAIN_ECHO, durable=False)
def plain_echo(event: Any, context: Any) -> Any:
    return event
