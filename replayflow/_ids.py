"""Deterministic operation ids, identical to the official AWS Python SDK's.

The n-th operation (n counting from 1) of a context gets ``blake2b(str(n))`` at the root and
``blake2b(f"{parent_id}-{n}")`` inside a child context, as hex, first 64 characters. Parallel and map
branches are the exception: branch ``i`` (counting from 0) of the batch operation ``b`` gets
``blake2b(f"{b}-{i}")``.
"""

from __future__ import annotations

from hashlib import blake2b

__all__ = ["operation_id"]


def operation_id(prefix: str | None, n: int) -> str:
    """The id of operation ``n`` in the context whose own id is ``prefix`` (``None`` at the root)."""
    key = f"{prefix}-{n}" if prefix else str(n)
    return blake2b(key.encode()).hexdigest()[:64]
