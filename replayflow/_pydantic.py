"""pydantic v2 models as operation results, through the cattrs converter of ``_serdes.py``.

A model is written with ``model_dump(mode="json")`` and read back with ``model_validate`` (so replayed
values are validated like fresh ones). pydantic is never imported here: a class can only be a pydantic
model once the user's code has imported pydantic, so the check looks in ``sys.modules``.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import cattrs

__all__ = ["is_model", "register_pydantic"]


class _Model(Protocol):
    """A pydantic v2 model (the one method this module calls on it)."""

    def model_dump(self, *, mode: str) -> object: ...


class _ModelClass(Protocol):
    """A pydantic v2 model class."""

    def model_validate(self, obj: object, /) -> object: ...


def is_model(tp: object) -> bool:
    """Whether ``tp`` is a pydantic v2 ``BaseModel`` subclass (False while pydantic is not imported)."""
    pydantic = sys.modules.get("pydantic")
    if pydantic is None or not isinstance(tp, type):
        return False
    return issubclass(tp, pydantic.BaseModel)


def _unstructure(model: _Model) -> object:
    return model.model_dump(mode="json")


def _structure(value: object, tp: _ModelClass) -> object:
    return tp.model_validate(value)


def register_pydantic(converter: cattrs.Converter) -> None:
    """Teach a cattrs converter to unstructure and structure pydantic models."""
    converter.register_unstructure_hook_func(is_model, _unstructure)
    converter.register_structure_hook_func(is_model, _structure)
