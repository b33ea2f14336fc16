"""Plugins: instrumentation hooks around invocations, operations and step attempts.

Subclass :class:`Plugin` and override the hooks you need; pass instances to ``@durable(plugins=[...])``.
Hooks run on the interpreter's thread (attempt hooks on the thread running the step body). A hook that
raises is logged on the ``replayflow.plugins`` logger and otherwise ignored: plugins never change what a
workflow does.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from ._frozen import Record, init

__all__ = ["Hooks", "InvocationInfo", "OperationInfo", "Plugin"]

log = logging.getLogger("replayflow.plugins")


class InvocationInfo(Record):
    """The invocation a hook is about."""

    __slots__ = ("execution_arn", "is_first_invocation", "request_id")
    execution_arn: str
    is_first_invocation: bool
    request_id: str | None

    def __init__(self, execution_arn: str, is_first_invocation: bool, request_id: str | None = None) -> None:
        init(self, "execution_arn", execution_arn)
        init(self, "is_first_invocation", is_first_invocation)
        init(self, "request_id", request_id)


class OperationInfo(Record):
    """The operation a hook is about."""

    __slots__ = ("execution_arn", "name", "operation_id", "parent_id", "sub_type", "type")
    execution_arn: str
    operation_id: str
    type: str
    sub_type: str | None
    name: str | None
    parent_id: str | None

    def __init__(
        self,
        execution_arn: str,
        operation_id: str,
        type: str,
        sub_type: str | None,
        name: str | None,
        parent_id: str | None,
    ) -> None:
        init(self, "execution_arn", execution_arn)
        init(self, "operation_id", operation_id)
        init(self, "type", type)
        init(self, "sub_type", sub_type)
        init(self, "name", name)
        init(self, "parent_id", parent_id)


class Plugin:
    """Base class of plugins; every hook does nothing unless overridden."""

    def on_invocation_start(self, info: InvocationInfo) -> None:
        """Before any workflow code runs in this invocation."""

    def on_invocation_end(self, info: InvocationInfo, status: str) -> None:
        """After the invocation's outcome is final (``SUCCEEDED``, ``FAILED`` or ``PENDING``)."""

    def on_operation_start(self, op: OperationInfo) -> None:
        """An operation is started for the first time (not on replay)."""

    def on_operation_end(self, op: OperationInfo, status: str, error: BaseException | None) -> None:
        """An operation reached a final status in this invocation (``SUCCEEDED`` or ``FAILED``...)."""

    def on_attempt_start(self, op: OperationInfo, attempt: int) -> None:
        """A step (or wait_for_condition check) attempt is about to run user code."""

    def on_attempt_end(self, op: OperationInfo, attempt: int, status: str, error: BaseException | None) -> None:
        """The attempt finished: ``SUCCEEDED`` or ``FAILED`` (``error`` is what it raised)."""


_HOOKS = (
    "on_invocation_start",
    "on_invocation_end",
    "on_operation_start",
    "on_operation_end",
    "on_attempt_start",
    "on_attempt_end",
)


class Hooks:
    """Calls each plugin's overridden hooks, isolating failures. ``active`` is False with no plugins."""

    __slots__ = ("_plugins", "active")

    def __init__(self, plugins: Sequence[Any] = ()) -> None:
        self._plugins: dict[str, list[Any]] = {name: [] for name in _HOOKS}
        for plugin in plugins:
            for name in _HOOKS:
                method = getattr(plugin, name, None)
                base = getattr(Plugin, name)
                if method is not None and getattr(method, "__func__", None) is not base:
                    self._plugins[name].append(method)
        self.active = any(self._plugins.values())

    def emit(self, hook: str, *args: Any) -> None:
        for method in self._plugins[hook]:
            try:
                method(*args)
            except Exception:
                log.exception("plugin hook %s of %r raised; ignored", hook, getattr(method, "__self__", method))


NO_HOOKS = Hooks()
