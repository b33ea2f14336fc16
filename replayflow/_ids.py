"""Deterministic operation ids, identical to the official AWS Python SDK's.

The n-th operation (n counting from 1) of a context gets ``blake2b(str(n))`` at the root and
``blake2b(f"{parent_id}-{n}")`` inside a child context, as hex, first 64 characters. Parallel and map
branches are the exception: branch ``i`` (counting from 0) of the batch operation ``b`` gets
``blake2b(f"{b}-{i}")``.
"""

from __future__ import annotations

try:  # hashlib's own blake2b, without hashlib loading OpenSSL's hashes (~2 ms of import), as random does
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - a Python built without its own blake2
    from hashlib import blake2b

__all__ = ["ROOT_IDS", "blake2b", "operation_id", "root_id"]

#: ``ROOT_IDS[n]`` is the id of root operation ``n``: computed once per process and shared by every
#: invocation a warm process serves (replaying N root operations then costs N list reads, not N hashes).
ROOT_IDS: list[str] = [""]
_ROOT_CACHE_MAX = 1 << 17  # 131,072 ids (~15 MB); AWS caps an execution at 3,000 operations


def operation_id(prefix: str | None, n: int) -> str:
    """The id of operation ``n`` in the context whose own id is ``prefix`` (``None`` at the root)."""
    if not prefix:
        return root_id(n)
    return blake2b(f"{prefix}-{n}".encode()).hexdigest()[:64]


def root_id(n: int) -> str:
    """The id of root operation ``n`` (from :data:`ROOT_IDS`, extending it up to its cap)."""
    ids = ROOT_IDS
    if n < len(ids):
        return ids[n]
    if n >= _ROOT_CACHE_MAX:
        return blake2b(str(n).encode()).hexdigest()[:64]
    for k in range(len(ids), n + 1):  # appends only: a concurrent reader sees a prefix of the same list
        ids.append(blake2b(str(k).encode()).hexdigest()[:64])
    return ids[n]
