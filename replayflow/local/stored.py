"""The stored form of an :class:`~.records.Execution`: what a persistent store keeps of it besides its
operations and events (stored on their own), converted by cattrs.

The stored form is a JSON object of the record's stored fields (every field but the ``init=False`` ones)
and ``"version"``: :data:`VERSION`. Named tuples are JSON arrays and ``pending`` a sorted array, so the
form is the one version 1 (written before this module, with no ``"version"``) had, but for ``children``:
version 1 wrote a child execution's ARN, or ``"plain:<function>"`` for a call of a plain function; they
are still read. A form of a later version is refused with a clear :class:`~.errors.StoreError`.
"""

from __future__ import annotations

from typing import Any

import attrs
import cattrs
from cattrs.cols import is_namedtuple
from cattrs.gen import make_dict_unstructure_fn, override

from .errors import StoreError
from .records import ChainedTarget, Execution

__all__ = ["VERSION", "from_stored", "stored_form"]

#: The stored form this module writes (and the latest it reads).
VERSION = 2
_PLAIN = "plain:"  # version 1's prefix of a plain function's child entry


def _chained_target(value: Any, _: type) -> ChainedTarget:
    if isinstance(value, str):  # version 1
        if value.startswith(_PLAIN):
            return ChainedTarget("plain", value[len(_PLAIN) :])
        return ChainedTarget("execution", value)
    kind, target = value
    if kind not in ("execution", "plain") or not isinstance(target, str):
        raise ValueError(f"not a chained invoke target: {value!r}")
    return ChainedTarget(kind, target)


def _named_tuple(value: Any, cls: type[tuple[Any, ...]]) -> tuple[Any, ...]:
    if not isinstance(value, list | tuple):
        raise ValueError(f"expected an array for {cls.__name__}, got {value!r}")
    return cls(*value)


def _converter() -> cattrs.Converter:
    converter = cattrs.Converter()
    converter.register_unstructure_hook_func(is_namedtuple, list)
    # the records' named tuples hold plain JSON values (their annotations are strings cattrs cannot resolve)
    converter.register_structure_hook_func(is_namedtuple, _named_tuple)
    converter.register_structure_hook(ChainedTarget, _chained_target)
    overrides: dict[str, Any] = {field.name: override(omit=True) for field in attrs.fields(Execution) if not field.init}
    overrides["pending"] = override(unstruct_hook=sorted)
    converter.register_unstructure_hook(Execution, make_dict_unstructure_fn(Execution, converter, **overrides))
    return converter


_CONVERTER = _converter()


def stored_form(ex: Execution) -> dict[str, Any]:
    """``ex``'s stored form (JSON-ready)."""
    form: dict[str, Any] = _CONVERTER.unstructure(ex)
    form["queued"] = ex.queued or ex.wake  # a wake waiting for the invocation in flight: invoke once resumed
    form["version"] = VERSION
    return form


def from_stored(form: dict[str, Any]) -> Execution:
    """The execution a stored form describes (without its operations and events)."""
    version = form.get("version", 1)
    if not isinstance(version, int) or version > VERSION:
        raise StoreError(
            f"an execution stored in form version {version!r} by a newer replayflow (this one reads versions "
            f"up to {VERSION}): upgrade replayflow to read this store"
        )
    try:
        return _CONVERTER.structure({k: v for k, v in form.items() if k != "version"}, Execution)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        raise StoreError(f"an unreadable execution ({exc!r})") from exc
