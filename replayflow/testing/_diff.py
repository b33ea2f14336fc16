"""Readable assertion messages: expected vs actual as a diff."""

from __future__ import annotations

import difflib
import pprint
from typing import Any

__all__ = ["diff"]


def diff(expected: Any, actual: Any, *, label: str = "") -> str:
    """``expected`` and ``actual`` side by side, with a line diff when they are long enough to need one."""
    left = pprint.pformat(expected, width=100, sort_dicts=True)
    right = pprint.pformat(actual, width=100, sort_dicts=True)
    head = f"{label}: " if label else ""
    if "\n" not in left and "\n" not in right and len(left) + len(right) < 160:
        return f"{head}expected {left}\n{' ' * len(head)}     got {right}"
    lines = difflib.ndiff(left.splitlines(), right.splitlines())
    return f"{head}expected (-) vs got (+):\n" + "\n".join(f"  {line}" for line in lines if not line.startswith("?"))
