"""The conformance workflows, registered by requirement id, and the chained-invoke targets they call.

Each requirement of the AWS conformance suite gets one durable function, the way an SDK team deploys one
Lambda function per requirement (the SAM template's ``TestingMetadata.TestDescription``)::

    @requirement("1-1")
    @replayflow.durable
    def step_basic(event, ctx):
        return (yield ctx.step(greet, event))

The function's *logical name* (``StepBasic``) plays the part of the CloudFormation logical resource id;
the harness registers the handler with the local durable service under that name. ``process=True`` marks
the requirements whose workflow must run in a separate process, because it really crashes it.

Chained-invoke targets are registered with :func:`target` under the function name the workflows pass to
``ctx.invoke`` (on AWS, that name would come from the template).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, TypeVar

import attrs

__all__ = [
    "NOT_IMPLEMENTED",
    "REQUIREMENTS",
    "TARGETS",
    "Requirement",
    "Target",
    "load_all",
    "logical_name",
    "requirement",
    "target",
]

F = TypeVar("F", bound=Callable[..., Any])


@attrs.frozen
class Requirement:
    """One requirement's function: its logical name, its handler and where to import it from."""

    rid: str
    function_name: str
    handler: Callable[..., Any]
    spec: str
    process: bool = False


@attrs.frozen
class Target:
    """A chained-invoke target: a durable handler or a plain Lambda handler ``(event, context)``."""

    function_name: str
    handler: Callable[..., Any]
    spec: str
    durable: bool


#: requirement id -> its function
REQUIREMENTS: dict[str, Requirement] = {}

#: function name -> chained-invoke target
TARGETS: dict[str, Target] = {}

#: requirement id -> why this SDK does not implement it (mirrors ``TestingMetadata.NotImplemented``).
#: Every requirement of aws-durable-execution-conformance-tests 1.0.0 is implemented: the map is empty.
NOT_IMPLEMENTED: dict[str, str] = {}


def logical_name(python_name: str) -> str:
    """``step_basic`` -> ``StepBasic``: a CloudFormation-style logical id."""
    return "".join(part[:1].upper() + part[1:] for part in python_name.split("_") if part)


def _spec(handler: Callable[..., Any]) -> str:
    module = getattr(handler, "__module__", None)
    name = getattr(handler, "__name__", None)
    if not module or not name or "<" in name:
        raise TypeError(f"{handler!r} must be a module-level function so that a process can import it")
    return f"{module}:{name}"


def requirement(rid: str, *, process: bool = False) -> Callable[[F], F]:
    """Register the decorated durable handler as the function of requirement ``rid``."""

    def register(handler: F) -> F:
        if rid in REQUIREMENTS:
            raise ValueError(f"requirement {rid} is registered twice")
        name = getattr(handler, "__name__", "")
        REQUIREMENTS[rid] = Requirement(rid, logical_name(name), handler, _spec(handler), process)
        return handler

    return register


def target(function_name: str, *, durable: bool) -> Callable[[F], F]:
    """Register the decorated handler as the chained-invoke target ``function_name``."""

    def register(handler: F) -> F:
        if function_name in TARGETS:
            raise ValueError(f"target {function_name} is registered twice")
        TARGETS[function_name] = Target(function_name, handler, _spec(handler), durable)
        return handler

    return register


def load_all() -> None:
    """Import every requirement's workflow and every target, which registers them."""
    importlib.import_module("tests.conformance.functions")
    importlib.import_module("tests.conformance.targets")
