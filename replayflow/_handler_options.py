"""The options of a durable handler: ``@durable(...)``'s keyword arguments, as one frozen object.

:class:`HandlerOptions` is built once, from the keywords of :func:`replayflow.durable` (or of
``DurableHandler``), checked there, and handed as is to every invocation's interpreter. ``DurableOptions``
is the same set of names as a ``TypedDict``, the type of those keyword arguments.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from ._errors import ValidationError
from ._frozen import Record, init

if TYPE_CHECKING:
    from ._envelope import PayloadFormat
    from ._hooks import Plugin
    from ._serdes import SerDes
    from ._transport import Transport

__all__ = ["DurableOptions", "HandlerOptions", "NonDeterminismPolicy"]

#: What a handler does when the code no longer matches the history (see :func:`replayflow.durable`).
NonDeterminismPolicy = Literal["fail", "retry"]


class HandlerOptions(Record, kw_only=True):
    """Everything ``@durable(...)`` configures; the fields are documented on :func:`replayflow.durable`."""

    __slots__ = (
        "log_replay",
        "logger",
        "max_workers",
        "on_non_determinism",
        "pipelined",
        "plugins",
        "result_serdes",
        "serdes",
        "shutdown_margin",
        "start_checkpoint_delay",
        "transport",
    )
    transport: Transport | None
    plugins: tuple[Plugin, ...]
    #: a stdlib or powertools logger for ``ctx.logger`` (``None``: the ``replayflow.workflow`` logger)
    logger: Any
    log_replay: bool
    max_workers: int
    shutdown_margin: float
    result_serdes: SerDes[Any] | None
    start_checkpoint_delay: float
    on_non_determinism: NonDeterminismPolicy
    pipelined: bool
    serdes: SerDes[Any] | PayloadFormat | None

    def __init__(
        self,
        *,
        transport: Transport | None = None,
        plugins: Iterable[Plugin] = (),
        logger: Any = None,
        log_replay: bool = False,
        max_workers: int = 32,
        shutdown_margin: float = 2.0,
        result_serdes: SerDes[Any] | None = None,
        start_checkpoint_delay: float = 0.1,
        on_non_determinism: NonDeterminismPolicy = "fail",
        pipelined: bool = False,
        serdes: SerDes[Any] | PayloadFormat | None = None,
    ) -> None:
        init(self, "transport", transport)
        init(self, "plugins", tuple(plugins))
        init(self, "logger", logger)
        init(self, "log_replay", log_replay)
        init(self, "max_workers", max_workers)
        init(self, "shutdown_margin", shutdown_margin)
        init(self, "result_serdes", result_serdes)
        init(self, "start_checkpoint_delay", start_checkpoint_delay)
        init(self, "on_non_determinism", on_non_determinism)
        init(self, "pipelined", bool(pipelined))
        init(self, "serdes", serdes)
        if on_non_determinism not in ("fail", "retry"):
            raise ValidationError(f'on_non_determinism must be "fail" or "retry", got {on_non_determinism!r}')


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
