"""Where executions live: in memory (the default) or in a SQLite file that survives the process.

The service keeps every execution in memory and calls :meth:`Store.save` after each change it makes
(a checkpoint, an invocation starting or ending, a timer firing, a callback...), with what changed since
the last save. :class:`SqliteStore` writes that in one transaction, so a process killed at any point
leaves the file at the last completed change; :meth:`Store.load` gives it all back to a new process.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

import orjson

from .records import Execution

__all__ = ["MemoryStore", "SqliteStore", "Store", "open_store"]


@runtime_checkable
class Store(Protocol):
    """Persistence for the service (called with the service's lock held)."""

    #: ``False`` when nothing survives the process (the service then skips the bookkeeping).
    durable: bool

    def save(self, ex: Execution) -> None:
        """Persist ``ex``: its meta, ops changed since the last save, events appended since then."""
        ...

    def load(self) -> Iterator[Execution]:
        """Every stored execution, with its operations (in start order) and events."""
        ...

    def close(self) -> None: ...


class MemoryStore:
    """Nothing is written: executions live as long as the service object."""

    durable = False

    def save(self, ex: Execution) -> None:
        return None

    def load(self) -> Iterator[Execution]:
        return iter(())

    def close(self) -> None:
        return None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS executions (arn TEXT PRIMARY KEY, meta BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS operations (
    arn TEXT NOT NULL, id TEXT NOT NULL, position INTEGER NOT NULL, body BLOB NOT NULL,
    PRIMARY KEY (arn, id));
CREATE TABLE IF NOT EXISTS events (
    arn TEXT NOT NULL, event_id INTEGER NOT NULL, body BLOB NOT NULL, PRIMARY KEY (arn, event_id));
"""


class SqliteStore:
    """A SQLite file (WAL journal): every save is one transaction, durable across a killed process."""

    durable = True

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._positions: dict[str, dict[str, int]] = {}

    def save(self, ex: Execution) -> None:
        changed = ex.changes[ex.persisted_changes :]
        new_events = ex.events[ex.persisted_events :]
        positions = self._positions.setdefault(ex.arn, {})
        rows = []
        for op_id in dict.fromkeys(changed):
            position = positions.get(op_id)
            if position is None:
                position = positions[op_id] = len(positions)
            rows.append((ex.arn, op_id, position, orjson.dumps(ex.ops[op_id])))
        with self._lock:
            db = self._db
            db.execute("BEGIN")
            try:
                db.execute(
                    "INSERT OR REPLACE INTO executions (arn, meta) VALUES (?, ?)", (ex.arn, orjson.dumps(ex.meta()))
                )
                if rows:
                    db.executemany(
                        "INSERT OR REPLACE INTO operations (arn, id, position, body) VALUES (?, ?, ?, ?)", rows
                    )
                if new_events:
                    db.executemany(
                        "INSERT OR REPLACE INTO events (arn, event_id, body) VALUES (?, ?, ?)",
                        [(ex.arn, e["EventId"], orjson.dumps(e)) for e in new_events],
                    )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        ex.persisted_changes = len(ex.changes)
        ex.persisted_events = len(ex.events)

    def load(self) -> Iterator[Execution]:
        with self._lock:
            metas = self._db.execute("SELECT meta FROM executions ORDER BY rowid").fetchall()
        for (meta_blob,) in metas:
            meta: dict[str, Any] = orjson.loads(meta_blob)
            ex = Execution.from_meta(meta)
            with self._lock:
                ops = self._db.execute(
                    "SELECT id, body FROM operations WHERE arn = ? ORDER BY position", (ex.arn,)
                ).fetchall()
                events = self._db.execute(
                    "SELECT body FROM events WHERE arn = ? ORDER BY event_id", (ex.arn,)
                ).fetchall()
            positions = self._positions.setdefault(ex.arn, {})
            for op_id, body in ops:
                ex.ops[op_id] = orjson.loads(body)
                ex.order.append(op_id)
                positions[op_id] = len(positions)
            ex.events = [orjson.loads(body) for (body,) in events]
            ex.persisted_events = len(ex.events)
            yield ex

    def close(self) -> None:
        with self._lock:
            self._db.close()


def open_store(store: Store | str | os.PathLike[str] | None) -> Store:
    """``None`` or ``"memory"``/``":memory:"`` -> :class:`MemoryStore`; a path -> :class:`SqliteStore`."""
    if store is None or (isinstance(store, str) and store in ("memory", ":memory:")):
        return MemoryStore()
    if isinstance(store, str | os.PathLike):
        return SqliteStore(store)
    return store
