"""Checkpointing: queued updates, batches within the service's limits, token threading, paging.

Updates queue in program order and go out on :meth:`Checkpointer.flush`, which the interpreter calls
before user code with side effects runs (so finished work is durable first), when it needs an answer from
the service (a callback id), and before the invocation returns. A step's START therefore normally travels
in the same request as its result. Every request consumes the current checkpoint token and the response
carries the next one; a response without a token after a batch that did not finish the execution means
the service revoked the token, and the invocation must stop (:class:`TokenRevoked`).

*Pipelined* checkpoints (opt-in, :meth:`Checkpointer.send_in_background`): a sender thread sends what is
queued, in batches within the limits, while the interpreter goes on with the next at-least-once step.
Requests still go out one at a time, in order, each with the token the previous one returned; a
:meth:`flush` waits for the request in flight and sends the rest, so every barrier (a suspension, an
at-most-once step, a callback id, the handler's return) still finds everything durable.
"""

from __future__ import annotations

import _thread
import itertools
import os
import threading
from collections.abc import Callable, Iterable

import orjson

from ._alarms import ALARMS
from ._errors import InvalidEventError, ServiceError, TokenRevoked
from ._event_check import check_operations
from ._transport import Transport
from ._wire import (
    CHECKPOINT_BATCH_MAX_BYTES,
    CHECKPOINT_BATCH_MAX_UPDATES,
    OperationDict,
    OperationUpdateDict,
    index_by_id,
)

__all__ = ["Checkpointer"]

STATE_PAGE_SIZE = 1000

#: Client tokens are unique per request: a random part per process, a counter per invocation and per call.
_PROCESS_TOKEN = os.urandom(16).hex()  # not uuid: it imports platform, ~3 ms
_INVOCATIONS = itertools.count(1)


class Checkpointer:
    """Owns the checkpoint token and the queue of updates for one invocation.

    The interpreter's thread uses it, except for :meth:`flush_soon`'s background flush and the pipelined
    sender: ``_send_lock`` serializes requests (and owns the token), ``_lock`` guards the queue for a moment
    at a time, and what a background send receives is merged later, on the interpreter's thread.
    """

    __slots__ = (
        "_failure",
        "_invocation",
        "_lock",
        "_received",
        "_send_lock",
        "_sender",
        "_stopping",
        "_wake",
        "_wanted",
        "arn",
        "calls",
        "finished",
        "has_barrier",
        "has_completions",
        "has_service_work",
        "on_update",
        "pending",
        "records",
        "sending",
        "token",
        "transport",
    )

    def __init__(self, transport: Transport, arn: str, token: str, records: dict[str, OperationDict]) -> None:
        self.transport = transport
        self.arn = arn
        self.token: str | None = token
        self.records = records
        self.pending: list[OperationUpdateDict] = []
        self.has_completions = False
        #: Whether what is queued must be durable before the next side effect, even a pipelined one.
        self.has_barrier = False
        #: Whether a queued update starts something the service runs on its own (a timer, an invoke).
        self.has_service_work = False
        self.finished = False
        self.calls = 0
        self.on_update: Callable[[str], None] = _ignore
        self._invocation = next(_INVOCATIONS)  # ClientToken: process, invocation and call: unique per request
        self._lock = threading.Lock()
        self._send_lock = _thread.RLock()  # (threading.RLock is a Python function around this one)
        #: Pipelined: updates handed to the sender thread and not acknowledged by the service yet.
        self.sending = False
        self._sender: threading.Thread | None = None
        self._wanted: threading.Condition | None = None  # the sender thread's wake-up, made with the thread
        self._wake = False
        self._stopping = False
        self._received: list[OperationDict] = []  # from background flushes, merged on the interpreter thread
        self._failure: BaseException | None = None  # a background flush's error, raised on the next use

    def add(self, update: OperationUpdateDict) -> None:
        with self._lock:
            self.pending.append(update)
        action = update["Action"]
        if action != "START":
            self.has_completions = True
            if action == "RETRY":
                self.has_service_work = True
        elif update["Type"] in ("WAIT", "CHAINED_INVOKE"):
            self.has_service_work = True

    def flush(self, *, refresh: bool = False) -> None:
        """Send every queued update, in order, in as few requests as the limits allow.

        Waits first for a background request in flight. ``refresh``: with nothing queued, send an empty
        checkpoint anyway, to learn what changed on the service (a timer that fired, say).
        """
        with self._send_lock:
            with self._lock:
                self._raise_failure()
                self.has_completions = self.has_service_work = self.has_barrier = False
                received, self._received = self._received, []
                pending, self.pending = self.pending, []
                self.sending = False
            if received:
                self.merge(received)
            if refresh and not pending:
                self._send([], self.merge)
            self._send_all(pending, self.merge)

    def _send_all(self, pending: list[OperationUpdateDict], merge: Callable[[list[OperationDict]], None]) -> None:
        """Send ``pending`` in batches; on an error, what was not sent goes back to the front of the queue.

        Batches are cut by position: slicing off the rest after each batch would copy the queue once per
        batch (a wide map's last flush holds tens of thousands of updates), and each copy is a new young
        list that every young collection traverses.
        """
        start, stop = 0, len(pending)
        while start < stop:
            end = batch_end(pending, start)
            try:
                self._send(pending if start == 0 and end == stop else pending[start:end], merge)
            except TokenRevoked:
                raise  # nothing more can be sent in this invocation
            except BaseException:
                with self._lock:
                    self.pending[:0] = pending[end:]
                raise
            start = end

    def send_in_background(self) -> None:
        """Pipelined: have the sender thread checkpoint what is queued now, and return at once.

        A failure of a background request is raised here (or by the next :meth:`flush`).
        """
        with self._lock:
            self._raise_failure()
            if not self.pending:
                return
            self.has_completions = False
            self.sending = True
            self._wake = True
            if self._sender is None:
                self._stopping = False
                if self._wanted is None:
                    self._wanted = threading.Condition(self._lock)
                self._sender = threading.Thread(
                    target=self._send_loop, args=(self._wanted,), name="replayflow-checkpoint", daemon=True
                )
                self._sender.start()
            elif self._wanted is not None:
                self._wanted.notify()

    def stop(self) -> None:
        """End the sender thread (after the handler's last flush); nothing is notified of updates any more
        (which also lets the interpreter and the checkpointer be freed without the cyclic collector)."""
        self.on_update = _ignore
        with self._lock:
            sender, self._sender = self._sender, None
            self._stopping = True
            if self._wanted is not None:
                self._wanted.notify()
        if sender is not None and sender is not threading.current_thread():
            sender.join()

    def _send_loop(self, wanted: threading.Condition) -> None:
        while True:
            with self._lock:
                while not self._wake and not self._stopping:
                    wanted.wait()
                if self._stopping:
                    return
                self._wake = False
            with self._send_lock:
                with self._lock:
                    pending, self.pending = self.pending, []
                    if self._failure is not None:
                        self.pending[:0] = pending
                        continue
                try:
                    self._send_all(pending, self._keep_received)
                except BaseException as error:  # raised on the interpreter thread at its next checkpoint
                    with self._lock:
                        self._failure = error
                with self._lock:
                    if not self.pending:
                        self.sending = False

    def _keep_received(self, operations: list[OperationDict]) -> None:
        with self._lock:
            self._received.extend(operations)

    def flush_soon(self, delay: float) -> Callable[[], None]:
        """Flush what is queued now from a background thread in ``delay`` seconds; returns a cancel function.

        Used while a step body runs: a body that takes a while gets its START checkpointed (so a crash
        or a timeout in the body is visible in the history); a quick one's START travels with its result.
        """
        if not self.pending:
            return _ignore_call
        return ALARMS.schedule(delay, self._flush_in_background)

    @property
    def has_received(self) -> bool:
        """Whether a background send brought operations not merged yet, or is still under way."""
        return bool(self._received) or self._failure is not None or self.sending

    def _flush_in_background(self) -> None:
        with self._send_lock:
            with self._lock:
                if self._failure is not None:
                    return
                pending, self.pending = self.pending, []
            try:
                self._send_all(pending, self._keep_received)
            except BaseException as error:  # raised on the interpreter thread at the next flush
                with self._lock:
                    self._failure = error

    def _raise_failure(self) -> None:
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

    def _send(self, batch: list[OperationUpdateDict], merge: Callable[[list[OperationDict]], None]) -> None:
        if self.token is None:
            raise TokenRevoked("no checkpoint token left")
        response = self.transport.checkpoint_durable_execution(
            {
                "DurableExecutionArn": self.arn,
                "CheckpointToken": self.token,
                "Updates": batch,
                "ClientToken": f"{_PROCESS_TOKEN}-{self._invocation}-{self.calls}",
            }
        )
        self.calls += 1
        token = response.get("CheckpointToken")
        state = response.get("NewExecutionState") or {"Operations": []}
        self.token = token
        if not token:
            if any(u["Type"] == "EXECUTION" for u in batch):
                self.finished = True
                merge(list(state.get("Operations") or ()))
                return
            self.pending.clear()
            raise TokenRevoked("the service revoked the checkpoint token")
        merge(list(state.get("Operations") or ()))
        marker = state.get("NextMarker")
        if marker:
            self._load_pages(marker, merge)

    def load_pages(self, marker: str | None) -> None:
        """Read ``GetDurableExecutionState`` pages from ``marker`` on and merge them."""
        if not marker:
            return  # the whole state came with the event
        with self._send_lock:
            self._load_pages(marker, self.merge)

    def _load_pages(self, marker: str | None, merge: Callable[[list[OperationDict]], None]) -> None:
        seen: set[str] = set()
        while marker:
            if marker in seen:
                raise ServiceError("InvalidResponse", f"the state page markers loop back to {marker!r}")
            seen.add(marker)
            if self.token is None:
                raise TokenRevoked("no checkpoint token to read the execution state with")
            page = self.transport.get_durable_execution_state(
                {
                    "DurableExecutionArn": self.arn,
                    "CheckpointToken": self.token,
                    "Marker": marker,
                    "MaxItems": STATE_PAGE_SIZE,
                }
            )
            self.calls += 1
            where = f"the execution state page at marker {marker!r:.80}"
            if not isinstance(page, dict):
                raise InvalidEventError(f"{where} is a {type(page).__name__}, not an object")
            operations = page.get("Operations") or []
            try:
                merge(list(operations))
            except (TypeError, KeyError, AttributeError) as exc:
                check_operations(operations, f"{where}: Operations")
                raise InvalidEventError(f"{where} cannot be read: {exc!r}") from exc
            next_marker = page.get("NextMarker")
            if next_marker is not None and not isinstance(next_marker, str):
                raise InvalidEventError(f"{where}: NextMarker must be a string, got {type(next_marker).__name__}")
            if next_marker == marker:
                raise ServiceError("InvalidResponse", f"the state page marker {marker!r} did not advance")
            marker = next_marker

    def merge(self, operations: Iterable[OperationDict]) -> None:
        if self.on_update is _ignore:  # loading state before the workflow runs: nobody to notify
            # as the event's own page is indexed; a malformed record is named by _load_pages
            self.records.update(index_by_id(operations))
            return
        records = self.records
        notify = self.on_update
        for op in operations:
            op_id = op["Id"]
            records[op_id] = op
            notify(op_id)


def update_size(update: OperationUpdateDict) -> int:
    return len(orjson.dumps(update))


def batch_end(
    updates: list[OperationUpdateDict],
    start: int = 0,
    max_updates: int = CHECKPOINT_BATCH_MAX_UPDATES,
    max_bytes: int = CHECKPOINT_BATCH_MAX_BYTES,
) -> int:
    """Where the batch from ``start`` ends: the longest run within both limits (at least one update, even an
    oversized one)."""
    stop = len(updates)
    if stop - start <= max_updates and _upper_bound(updates[start:] if start else updates) <= max_bytes:
        return stop  # the usual case, decided without serializing anything
    last = min(stop, start + max_updates)
    size = 0
    for i in range(start, last):
        size += update_size(updates[i])
        if i > start and size > max_bytes:
            return i
    return last


def _upper_bound(updates: list[OperationUpdateDict]) -> int:
    """A bound on the JSON size of ``updates``: escaping grows text at most 6x; the rest is at most 2 KB."""
    total = 0
    for update in updates:
        payload = update.get("Payload")
        total += 2048 + (6 * len(payload) if payload else 0)
        error = update.get("Error")
        if error:
            total += 6 * sum(len(str(v)) + 32 for v in error.values())
    return total


def _ignore(_: str) -> None:
    return None


def _ignore_call() -> None:
    return None
