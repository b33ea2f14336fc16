"""One durable workflow per conformance requirement; importing this package registers them all."""

from . import callback, child, invoke, map, parallel, plugin, step, wait, wait_for_callback, wait_for_condition

__all__ = [
    "callback",
    "child",
    "invoke",
    "map",
    "parallel",
    "plugin",
    "step",
    "wait",
    "wait_for_callback",
    "wait_for_condition",
]
