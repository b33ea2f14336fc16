"""Where executions live: in memory (the default) or in a SQLite file that survives the process.

The service keeps every execution in memory and calls :meth:`Store.save` after each change it makes
(a checkpoint, an invocation starting or ending, a timer firing, a callback...), with what changed since
the last save. :class:`SqliteStore` writes that in one transaction, so a process killed at any point
leaves the file at the last completed change; :meth:`Store.load` gives it all back to a new process.

Who may write: one live process at a time. A writing :class:`SqliteStore` holds an exclusive OS lock
(``fcntl.flock``) on the sidecar file ``PATH.lock`` for as long as it is open; the lock goes with the
process, so a killed writer leaves nothing to clean up. A second writer gets :class:`StoreLockedError` at
once. Readers (``SqliteStore(path, read_only=True)``, what ``replayflow history`` and ``replayflow list``
use) take no lock, open the file read-only, read in one transaction (a consistent snapshot while a writer
goes on) and never write.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import urllib.parse
from collections.abc import Iterator
from typing import Protocol, runtime_checkable

import orjson

from .errors import StoreError, StoreLockedError
from .records import Execution
from .stored import from_stored, stored_form

__all__ = ["MemoryStore", "SqliteStore", "Store", "StoreError", "StoreLockedError", "open_store"]


@runtime_checkable
class Store(Protocol):
    """Persistence for the service (called with the service's lock held)."""

    #: ``False`` when nothing survives the process (the service then skips the bookkeeping).
    durable: bool

    def save(self, ex: Execution) -> None:
        """Persist ``ex``: its stored form (:mod:`.stored`), ops changed and events appended since the last save."""
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


#: one transaction, so a reader opening the file meanwhile sees no table or all of them
_SCHEMA = """
BEGIN;
CREATE TABLE IF NOT EXISTS executions (arn TEXT PRIMARY KEY, meta BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS operations (
    arn TEXT NOT NULL, id TEXT NOT NULL, position INTEGER NOT NULL, body BLOB NOT NULL,
    PRIMARY KEY (arn, id));
CREATE TABLE IF NOT EXISTS events (
    arn TEXT NOT NULL, event_id INTEGER NOT NULL, body BLOB NOT NULL, PRIMARY KEY (arn, event_id));
COMMIT;
"""


class SqliteStore:
    """A SQLite file (WAL journal): every save is one transaction, durable across a killed process.

    A writer owns the file (see the module docstring); ``read_only=True`` opens it for reading only.
    """

    durable = True

    def __init__(self, path: str | os.PathLike[str], *, read_only: bool = False) -> None:
        self.path = os.fspath(path)
        self.read_only = read_only
        self._lock_fd: int | None = None
        if read_only:
            self.durable = False  # the service then never calls save
            if not os.path.isfile(self.path):
                raise StoreError(f"no store at {self.path}")
            self._db = self._connect(f"file:{urllib.parse.quote(os.path.abspath(self.path))}?mode=ro", uri=True)
        else:
            directory = os.path.dirname(os.path.abspath(self.path))
            if not os.path.isdir(directory):
                raise StoreError(f"cannot create a store at {self.path}: no directory {directory}")
            if os.path.isdir(self.path):
                raise StoreError(f"cannot use {self.path} as a store: it is a directory")
            self._lock_fd = _own(self.path)
            self._db = self._connect(self.path)
            try:
                tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                if tables and "executions" not in tables:  # someone else's database: leave it alone
                    raise sqlite3.DatabaseError(f"it holds other tables: {', '.join(sorted(tables))}")
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.executescript(_SCHEMA)
            except sqlite3.Error as exc:
                self._db.close()
                self._release()
                raise StoreError(f"{self.path} is not a replayflow store ({exc})") from exc
        try:
            self._db.execute("SELECT arn, meta FROM executions LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            self._db.close()
            self._release()
            raise StoreError(f"{self.path} is not a replayflow store ({exc})") from exc
        self._lock = threading.Lock()
        self._positions: dict[str, dict[str, int]] = {}
        #: execution arn -> how many of its changes and events are stored
        self._saved: dict[str, tuple[int, int]] = {}

    def _connect(self, target: str, uri: bool = False) -> sqlite3.Connection:
        try:
            return sqlite3.connect(target, check_same_thread=False, isolation_level=None, uri=uri)
        except sqlite3.Error as exc:
            self._release()
            raise StoreError(f"cannot open the store {self.path} ({exc})") from exc

    def _release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor drops the flock
            self._lock_fd = None

    def save(self, ex: Execution) -> None:
        if self.read_only:
            raise StoreError(f"the store {self.path} was opened read-only")
        saved_changes, saved_events = self._saved.get(ex.arn, (0, 0))
        changed = ex.changes[saved_changes:]
        new_events = ex.events[saved_events:]
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
                    "INSERT OR REPLACE INTO executions (arn, meta) VALUES (?, ?)",
                    (ex.arn, orjson.dumps(stored_form(ex))),
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
        self._saved[ex.arn] = (len(ex.changes), len(ex.events))

    def load(self) -> Iterator[Execution]:
        with self._lock:
            db = self._db
            try:
                db.execute("BEGIN")  # one read transaction: a consistent snapshot while a writer goes on
                try:
                    metas = db.execute("SELECT meta FROM executions ORDER BY rowid").fetchall()
                    ops = db.execute("SELECT arn, id, body FROM operations ORDER BY arn, position").fetchall()
                    events = db.execute("SELECT arn, body FROM events ORDER BY arn, event_id").fetchall()
                finally:
                    db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot read the store {self.path} ({exc})") from exc
        ops_by: dict[str, list[tuple[str, bytes]]] = {}
        for arn, op_id, body in ops:
            ops_by.setdefault(arn, []).append((op_id, body))
        events_by: dict[str, list[bytes]] = {}
        for arn, body in events:
            events_by.setdefault(arn, []).append(body)
        for (meta_blob,) in metas:
            ex = self._execution(meta_blob)
            positions = self._positions.setdefault(ex.arn, {})
            for op_id, body in ops_by.get(ex.arn, ()):
                ex.ops[op_id] = orjson.loads(body)
                ex.order.append(op_id)
                positions[op_id] = len(positions)
            ex.events = [orjson.loads(body) for body in events_by.get(ex.arn, ())]
            self._saved[ex.arn] = (0, len(ex.events))
            yield ex

    def _execution(self, meta_blob: bytes) -> Execution:
        try:
            form = orjson.loads(meta_blob)
        except orjson.JSONDecodeError as exc:
            raise StoreError(f"{self.path} holds an unreadable execution ({exc!r})") from exc
        if not isinstance(form, dict):
            raise StoreError(f"{self.path} holds an unreadable execution (not an object)")
        try:
            return from_stored(form)
        except StoreError as exc:
            raise StoreError(f"{self.path} holds {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()
            self._release()


def _own(path: str) -> int:
    """Take the exclusive lock on ``PATH.lock`` (and write our pid in it), or raise StoreLockedError."""
    lock_path = path + ".lock"
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StoreError(f"cannot lock the store {path}: {exc.strerror} ({lock_path})") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise StoreLockedError(
            f"the store {path} is in use by another process (pid {owner}); stop it, or read the store "
            "with `replayflow history` / `replayflow list`, which do not need it"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


def open_store(store: Store | str | os.PathLike[str] | None, *, read_only: bool = False) -> Store:
    """``None`` or ``"memory"``/``":memory:"`` -> :class:`MemoryStore`; a path -> :class:`SqliteStore`."""
    if store is None or (isinstance(store, str) and store in ("memory", ":memory:")):
        return MemoryStore()
    if isinstance(store, str | os.PathLike):
        return SqliteStore(store, read_only=read_only)
    return store
