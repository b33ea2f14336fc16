"""The options of a durable handler: ``@durable(...)``'s keyword arguments, as one frozen object.

:class:`HandlerOptions` is built once, from the keywords of :func:`replayflow.durable` (or of
``DurableHandler``), checked there, and handed as is to every invocation's interpreter. ``DurableOptions``
is the same set of names as a ``TypedDict``, the type of those keyword arguments.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypedDict

import attrs

from ._errors import ValidationError

if TYPE_CHECKING:
    from ._envelope import PayloadFormat
    from ._hooks import Plugin
    from ._serdes import SerDes
    from ._transport import Transport

__all__ = ["DurableOptions", "HandlerOptions", "NonDeterminismPolicy"]

#: What a handler does when the code no longer matches the history (see :func:`replayflow.durable`).
NonDeterminismPolicy = Literal["fail", "retry"]


def _check_policy(_: object, __: object, value: object) -> None:
    if value not in ("fail", "retry"):
        raise ValidationError(f'on_non_determinism must be "fail" or "retry", got {value!r}')


def _plugins(plugins: Iterable[Plugin]) -> tuple[Plugin, ...]:
    return tuple(plugins)


@attrs.frozen(kw_only=True)
class HandlerOptions:
    """Everything ``@durable(...)`` configures; the fields are documented on :func:`replayflow.durable`."""

    transport: Transport | None = None
    plugins: tuple[Plugin, ...] = attrs.field(default=(), converter=_plugins)
    #: a stdlib or powertools logger for ``ctx.logger`` (``None``: the ``replayflow.workflow`` logger)
    logger: Any = None
    log_replay: bool = False
    max_workers: int = 32
    shutdown_margin: float = 2.0
    result_serdes: SerDes[Any] | None = None
    start_checkpoint_delay: float = 0.1
    on_non_determinism: NonDeterminismPolicy = attrs.field(default="fail", validator=_check_policy)
    pipelined: bool = attrs.field(default=False, converter=bool)
    serdes: SerDes[Any] | PayloadFormat | None = None


class DurableOptions(TypedDict, total=False):
    """The keyword arguments of :func:`replayflow.durable`: the fields of :class:`HandlerOptions`."""

    transport: Transport | None
    plugins: Sequence[Plugin]
    logger: Any
    log_replay: bool
    max_workers: int
    shutdown_margin: float
    result_serdes: SerDes[Any] | None
    start_checkpoint_delay: float
    on_non_determinism: NonDeterminismPolicy
    pipelined: bool
    serdes: SerDes[Any] | PayloadFormat | None
