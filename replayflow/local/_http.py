"""A small HTTP/1.1 server for the local faces: one I/O thread, bounded worker pools, hard limits.

Both the durable API face (:mod:`.server`) and the Lambda Invoke endpoint (:mod:`.lambda_endpoint`)
run on it. What it guarantees:

* **Reads never hold a worker.** One I/O thread reads every connection without blocking (a selector)
  and hands a worker only a complete request (head and body). A client that trickles its request
  (slowloris) or keeps an idle keep-alive connection costs a buffer, not a thread.
* **Bounded everything.** ``workers`` threads answer API calls; ``blocking_workers`` threads answer the
  requests ``is_blocking`` marks as long (a synchronous Invoke waits for its execution) so they can never
  starve the calls that would end them. At most ``max_connections`` are open: a new one evicts the
  connection idle the longest.
* **Timeouts.** A request must arrive in full within ``request_timeout`` seconds of its first byte
  (408 otherwise); an idle keep-alive connection is closed after ``idle_timeout`` seconds.
* **Limits before reading.** A ``Content-Length`` over ``max_body_bytes`` is answered 413 as soon as the
  head arrives, before any of the body is read; a malformed head, a bad ``Content-Length`` or a chunked
  body is answered 400 (the face's error shape, from ``error``), and the connection is closed.
* **One write per response**, ``TCP_NODELAY`` and keep-alive, so a call costs a loopback round trip and
  not Nagle's delayed-ACK wait.
* A handler that raises answers ``error(500, ...)`` with the exception's type only (no traceback).
"""

from __future__ import annotations

import collections
import contextlib
import queue
import re
import selectors
import socket
import threading
import time
from collections.abc import Callable, Mapping
from http import HTTPStatus
from urllib.parse import parse_qs, unquote

import attrs

__all__ = ["HttpServer", "Request", "Response", "json_error"]

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_DIGITS = re.compile(rb"[0-9]{1,19}")
_MAX_HEAD = 64 * 1024
_RECV = 256 * 1024


@attrs.frozen
class Request:
    """A complete HTTP request: ``headers`` keys are lower-case."""

    method: str
    target: str
    headers: Mapping[str, str]
    body: bytes

    @property
    def path(self) -> str:
        """The target's path, not yet percent-decoded."""
        return self.target.partition("?")[0]

    @property
    def segments(self) -> list[str]:
        """The path's segments, percent-decoded (``/a/b%2Fc`` -> ``["a", "b/c"]``)."""
        return [unquote(s) for s in self.path.split("/")[1:]]

    @property
    def query(self) -> dict[str, list[str]]:
        """The query string's parameters (each a list of values)."""
        return parse_qs(self.target.partition("?")[2], keep_blank_values=True)


@attrs.frozen
class Response:
    """What a handler answers. ``label`` names the request in the request log (e.g. the API called)."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = attrs.field(factory=dict)
    label: str = ""


ErrorFactory = Callable[[int, str, str], Response]
Handler = Callable[[Request], Response]
RequestLog = Callable[[Request | None, Response, float], None]


class _BadRequest(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@attrs.frozen
class _Head:
    method: str
    target: str
    headers: dict[str, str]
    body_start: int
    end: int
    keep: bool


@attrs.define(eq=False)
class _Conn:
    sock: socket.socket
    last: float
    buf: bytearray = attrs.field(factory=bytearray)
    started: float | None = None  # when the first byte of the pending request arrived
    head: _Head | None = None
    busy: bool = False


class _Pool:
    """At most ``size`` threads, started on demand, taking jobs in order."""

    def __init__(self, name: str, size: int) -> None:
        self.name, self.size = name, max(1, size)
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._idle = 0

    @property
    def threads(self) -> int:
        return len(self._threads)

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            if self._idle <= 0 and len(self._threads) < self.size:
                thread = threading.Thread(target=self._work, name=f"{self.name}-{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()
            self._idle -= 1
        self._jobs.put(job)

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            job = self._jobs.get()
            if job is None:
                return
            job()

    def close(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)


class HttpServer:
    """Serve ``handler`` on ``(host, port)``; see the module docstring for the guarantees and knobs."""

    def __init__(
        self,
        address: tuple[str, int],
        handler: Handler,
        *,
        error: ErrorFactory,
        name: str = "replayflow-http",
        workers: int = 8,
        blocking_workers: int = 32,
        is_blocking: Callable[[Request], bool] | None = None,
        max_body_bytes: int = 6 * 1024 * 1024,
        max_connections: int = 512,
        request_timeout: float = 10.0,
        idle_timeout: float = 60.0,
        write_timeout: float = 30.0,
        log: RequestLog | None = None,
    ) -> None:
        self.handler, self.error, self.log = handler, error, log
        self.is_blocking = is_blocking
        self.max_body_bytes, self.max_connections = max_body_bytes, max_connections
        self.request_timeout, self.idle_timeout, self.write_timeout = request_timeout, idle_timeout, write_timeout
        self._pool = _Pool(f"{name}-worker", workers)
        self._blocking = _Pool(f"{name}-blocking", blocking_workers)
        self._name = name
        self._listener = socket.create_server(address, backlog=128)
        self._listener.setblocking(False)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ, None)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._conns: dict[int, _Conn] = {}
        self._returned: collections.deque[tuple[_Conn, bool]] = collections.deque()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._next_sweep = 0.0

    @property
    def address(self) -> tuple[str, int]:
        """The bound host and port."""
        host, port = self._listener.getsockname()[:2]
        return str(host), int(port)

    @property
    def connections(self) -> int:
        """Connections open now."""
        return len(self._conns)

    @property
    def threads(self) -> int:
        """Threads this server runs: its I/O thread and the workers started so far."""
        return (1 if self._thread else 0) + self._pool.threads + self._blocking.threads

    def start(self) -> None:
        """Serve on a background thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
            self._thread.start()

    def serve_forever(self) -> None:
        """Serve on this thread until :meth:`close` (from another thread) or an interrupt."""
        self._thread = threading.current_thread()
        self._loop()

    def close(self) -> None:
        """Stop serving and close every connection (requests being answered are cut short)."""
        self._stopping = True
        self._wake()
        thread = self._thread
        if thread is None:
            self._teardown()
        elif thread is not threading.current_thread() and thread.is_alive():
            thread.join(timeout=5)
        self._pool.close()
        self._blocking.close()

    # -- the I/O thread --------------------------------------------------------------------------

    def _loop(self) -> None:
        try:
            while not self._stopping:
                for key, _ in self._selector.select(timeout=self._select_timeout()):
                    sock = key.fileobj
                    if sock is self._listener:
                        self._accept()
                    elif sock is self._wake_r:
                        self._take_returns()
                    else:
                        assert isinstance(sock, socket.socket)
                        self._readable(sock)
                self._sweep()
        finally:
            self._teardown()

    def _select_timeout(self) -> float:
        return 0.25 if self._conns else 1.0

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # out of file descriptors, etc.: leave it in the backlog
                return
            if len(self._conns) >= self.max_connections:
                self._evict()
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Conn(sock, time.monotonic())
            self._conns[sock.fileno()] = conn
            self._selector.register(sock, selectors.EVENT_READ, conn)

    def _evict(self) -> None:
        idle = [c for c in self._conns.values() if not c.busy]
        if idle:
            self._drop(min(idle, key=lambda c: c.last))

    def _readable(self, sock: socket.socket) -> None:
        conn = self._conns.get(sock.fileno())
        if conn is None:
            return
        try:
            data = sock.recv(_RECV)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
            return
        now = time.monotonic()
        conn.last = now
        if conn.started is None:
            conn.started = now
        conn.buf += data
        self._advance(conn)

    def _advance(self, conn: _Conn) -> None:
        """Parse what ``conn`` has buffered; hand a complete request to a worker."""
        try:
            if conn.head is None:
                end = conn.buf.find(b"\r\n\r\n", 0, _MAX_HEAD + 4)
                if end < 0:
                    if len(conn.buf) > _MAX_HEAD:
                        raise _BadRequest(431, "RequestHeaderFieldsTooLarge", "the request head is too large")
                    return
                conn.head = self._parse_head(bytes(conn.buf[:end]), end + 4)
                if conn.head.headers.get("expect", "").lower() == "100-continue" and len(conn.buf) < conn.head.end:
                    conn.sock.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        except _BadRequest as bad:
            self._reject(conn, bad)
            return
        except OSError:
            self._drop(conn)
            return
        head = conn.head
        if len(conn.buf) < head.end:
            return
        request = Request(head.method, head.target, head.headers, bytes(conn.buf[head.body_start : head.end]))
        del conn.buf[: head.end]
        keep = head.keep
        conn.head, conn.started, conn.busy = None, (time.monotonic() if conn.buf else None), True
        self._selector.unregister(conn.sock)
        pool = self._blocking if self.is_blocking is not None and self.is_blocking(request) else self._pool
        pool.submit(lambda: self._answer(conn, request, keep))

    def _parse_head(self, head: bytes, end: int) -> _Head:
        lines = head.split(b"\r\n")
        while lines and not lines[0]:  # stray CRLFs between requests (RFC 9112 section 2.2)
            lines.pop(0)
        parts = lines[0].split(b" ") if lines else []
        if (
            len(parts) != 3
            or not _TOKEN.fullmatch(parts[0])
            or not parts[1]
            or parts[2] not in (b"HTTP/1.1", b"HTTP/1.0")
        ):
            raise _BadRequest(400, "InvalidRequestContentException", "malformed HTTP request line")
        headers: dict[str, str] = {}
        lengths: set[bytes] = set()
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon or not _TOKEN.fullmatch(name):
                raise _BadRequest(400, "InvalidRequestContentException", "malformed HTTP header line")
            key = name.decode("ascii").lower()
            text = value.strip(b" \t")
            if key == "content-length":
                lengths.add(text)
            headers[key] = text.decode("latin-1")
        if "transfer-encoding" in headers:
            raise _BadRequest(400, "InvalidRequestContentException", "chunked request bodies are not supported")
        length = 0
        if lengths:
            if len(lengths) > 1:
                raise _BadRequest(400, "InvalidRequestContentException", "conflicting Content-Length headers")
            text = next(iter(lengths))
            if not text.isdigit():
                raise _BadRequest(400, "InvalidRequestContentException", f"invalid Content-Length {text[:40]!r}")
            if not _DIGITS.fullmatch(text) or int(text) > self.max_body_bytes:
                raise _BadRequest(
                    413, "RequestTooLargeException", f"the request body must be at most {self.max_body_bytes} bytes"
                )
            length = int(text)
        version = parts[2]
        connection = headers.get("connection", "").lower()
        keep = connection != "close" if version == b"HTTP/1.1" else connection == "keep-alive"
        target = parts[1].decode("latin-1")
        return _Head(parts[0].decode("ascii"), target, headers, end, end + length, keep)

    def _reject(self, conn: _Conn, bad: _BadRequest) -> None:
        """Answer a request that cannot be read (without reading its body), then close."""
        response = self.error(bad.status, bad.code, bad.message)
        data = _encode(response, keep=False)
        with contextlib.suppress(OSError):  # best effort: a loopback send buffer takes an error answer whole
            conn.sock.send(data)
        self._log(None, response, conn.started)
        self._drop(conn)

    def _sweep(self) -> None:
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + 0.1
        for conn in list(self._conns.values()):
            if conn.busy:
                continue
            if conn.started is not None and now - conn.started > self.request_timeout:
                self._reject(conn, _BadRequest(408, "RequestTimeoutException", "the request was not received in time"))
            elif conn.started is None and now - conn.last > self.idle_timeout:
                self._drop(conn)

    def _take_returns(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            return
        while self._returned:
            conn, keep = self._returned.popleft()
            conn.busy = False
            if not keep or self._stopping:
                self._drop(conn)
                continue
            conn.last = time.monotonic()
            self._selector.register(conn.sock, selectors.EVENT_READ, conn)
            if conn.buf:
                self._advance(conn)

    def _drop(self, conn: _Conn) -> None:
        fd = conn.sock.fileno()
        if fd < 0:
            return
        self._conns.pop(fd, None)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(conn.sock)
        conn.sock.close()

    def _teardown(self) -> None:
        for conn in list(self._conns.values()):
            if not conn.busy:
                self._drop(conn)
        for sock in (self._listener, self._wake_r):
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(sock)
        self._listener.close()
        self._wake_r.close()
        self._wake_w.close()

    # -- the workers -----------------------------------------------------------------------------

    def _answer(self, conn: _Conn, request: Request, keep: bool) -> None:
        started = time.monotonic()
        try:
            response = self.handler(request)
        except Exception as exc:  # a bug: the service's 500, without the traceback
            response = self.error(500, "ServiceException", f"internal error ({type(exc).__name__})")
        keep = keep and not self._stopping
        try:
            conn.sock.settimeout(self.write_timeout)
            conn.sock.sendall(_encode(response, keep=keep))
            conn.sock.setblocking(False)
        except OSError:
            keep = False
        self._log(request, response, started)
        self._returned.append((conn, keep))
        self._wake()

    def _log(self, request: Request | None, response: Response, started: float | None) -> None:
        if self.log is not None:
            elapsed = time.monotonic() - started if started is not None else 0.0
            with contextlib.suppress(Exception):  # a broken log must not break serving
                self.log(request, response, elapsed)


def _encode(response: Response, *, keep: bool) -> bytes:
    """Status line, headers and body in one buffer (one write)."""
    try:
        reason = HTTPStatus(response.status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [f"HTTP/1.1 {response.status} {reason}", f"Content-Length: {len(response.body)}"]
    lines.extend(f"{key}: {value}" for key, value in response.headers.items())
    if not keep:
        lines.append("Connection: close")
    lines.append("\r\n")
    return "\r\n".join(lines).encode("latin-1") + response.body


def json_error(status: int, code: str, message: str) -> Response:
    """The REST-JSON error shape of the Lambda APIs: ``x-amzn-ErrorType`` and ``{"Type", "message"}``."""
    import orjson

    body = orjson.dumps({"Type": "User" if status < 500 else "Service", "message": message})
    return Response(
        status, body, {"Content-Type": "application/json", "x-amzn-ErrorType": code, "x-amzn-RequestId": "local"}
    )
