"""A small HTTP/1.1 server for the local faces: one I/O thread, a bounded worker pool, hard limits.

Both the durable API face (:mod:`.server`) and the Lambda Invoke endpoint (:mod:`.lambda_endpoint`)
run on it. What it guarantees:

* **Reads and writes never hold a thread.** One I/O thread reads and writes every connection without
  blocking (a selector). A client that trickles its request (slowloris), keeps an idle keep-alive
  connection or does not read its answer costs a buffer, not a thread.
* **Quick requests are answered on the I/O thread** (the service's API calls take microseconds under its
  lock): no thread hand-off, so a call costs one loopback round trip even on a loaded machine. Requests
  ``is_blocking`` marks (a synchronous Invoke waits for its execution; a Lambda invocation runs a handler)
  go to at most ``blocking_workers`` threads; more wait their turn.
* **Bounded connections.** At most ``max_connections`` are open: a new one evicts the connection idle
  the longest.
* **Timeouts.** A request must arrive in full within ``request_timeout`` seconds of its first byte
  (408 otherwise); an idle keep-alive connection is closed after ``idle_timeout`` seconds, and one that
  does not take its answer within ``write_timeout`` seconds is dropped.
* **Limits before reading.** A ``Content-Length`` over ``max_body_bytes`` is answered 413 as soon as the
  head arrives, before any of the body is read; a malformed head, a bad ``Content-Length`` or a chunked
  body is answered 400 (the face's error shape, from ``error``), and the connection is closed.
* **One write per response**, ``TCP_NODELAY`` and keep-alive, so a call is not delayed by Nagle's
  algorithm waiting for the client's delayed ACK.
* A handler that raises answers ``error(500, ...)`` with the exception's type only (no traceback).
"""

from __future__ import annotations

import collections
import contextlib
import functools
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
    busy: bool = False  # a worker is answering it
    out: memoryview | None = None  # the rest of an answer the socket did not take at once
    out_since: float = 0.0
    keep: bool = True  # keep the connection open once ``out`` is sent


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
        self._blocking = _Pool(f"{name}-worker", blocking_workers)
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
        self._returned: collections.deque[tuple[_Conn, bytes, bool]] = collections.deque()
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
        return (1 if self._thread else 0) + self._blocking.threads

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
        self._blocking.close()

    # -- the I/O thread --------------------------------------------------------------------------

    def _loop(self) -> None:
        try:
            while not self._stopping:
                for key, mask in self._selector.select(timeout=0.25 if self._conns else 1.0):
                    sock = key.fileobj
                    if sock is self._listener:
                        self._accept()
                    elif sock is self._wake_r:
                        self._take_returns()
                    elif mask & selectors.EVENT_WRITE:
                        self._flush(key.data)
                    else:
                        self._readable(key.data)
                self._sweep()
        finally:
            self._teardown()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # out of file descriptors: free one (or pause) rather than spin on the backlog
                if not self._evict():
                    time.sleep(0.01)
                return
            if len(self._conns) >= self.max_connections:
                self._evict()
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Conn(sock, time.monotonic())
            self._conns[sock.fileno()] = conn
            self._selector.register(sock, selectors.EVENT_READ, conn)

    def _evict(self) -> bool:
        """Close the connection idle the longest (not one being answered); whether there was one."""
        idle = [c for c in self._conns.values() if not c.busy and c.out is None]
        if idle:
            self._drop(min(idle, key=lambda c: c.last))
        return bool(idle)

    def _readable(self, conn: _Conn) -> None:
        try:
            data = conn.sock.recv(_RECV)
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
        """Answer every complete request ``conn`` has buffered (in order), until one must wait."""
        while conn.buf and not conn.busy and conn.out is None and conn.sock.fileno() >= 0:
            request, keep = self._next_request(conn)
            if request is None:
                return
            if self.is_blocking is not None and self.is_blocking(request):
                conn.busy = True
                self._selector.unregister(conn.sock)
                self._blocking.submit(functools.partial(self._work, conn, request, keep))
                return
            started = time.monotonic()
            response = self._call(request)
            self._log(request, response, started)
            self._send(conn, _encode(response, keep=keep), keep)

    def _next_request(self, conn: _Conn) -> tuple[Request | None, bool]:
        """The next complete request in ``conn``'s buffer, if there is one (a bad one is answered here)."""
        try:
            if conn.head is None:
                end = conn.buf.find(b"\r\n\r\n", 0, _MAX_HEAD + 4)
                if end < 0:
                    if len(conn.buf) > _MAX_HEAD:
                        raise _BadRequest(431, "RequestHeaderFieldsTooLarge", "the request head is too large")
                    return None, False
                conn.head = self._parse_head(bytes(conn.buf[:end]), end + 4)
                if conn.head.headers.get("expect", "").lower() == "100-continue" and len(conn.buf) < conn.head.end:
                    conn.sock.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        except _BadRequest as bad:
            self._reject(conn, bad)
            return None, False
        except OSError:
            self._drop(conn)
            return None, False
        head = conn.head
        if len(conn.buf) < head.end:
            return None, False
        request = Request(head.method, head.target, head.headers, bytes(conn.buf[head.body_start : head.end]))
        del conn.buf[: head.end]
        conn.head, conn.started = None, (time.monotonic() if conn.buf else None)
        return request, head.keep

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

    def _send(self, conn: _Conn, data: bytes, keep: bool) -> None:
        """Write an answer without blocking; what the socket does not take now goes out when it can."""
        try:
            sent = conn.sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self._drop(conn)
            return
        if sent < len(data):
            conn.out, conn.out_since, conn.keep = memoryview(data)[sent:], time.monotonic(), keep
            self._selector.modify(conn.sock, selectors.EVENT_WRITE, conn)
        elif not keep or self._stopping:
            self._drop(conn)
        else:
            conn.last = time.monotonic()

    def _flush(self, conn: _Conn) -> None:
        assert conn.out is not None
        try:
            sent = conn.sock.send(conn.out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._drop(conn)
            return
        conn.out = conn.out[sent:] if sent < len(conn.out) else None
        if conn.out is not None:
            return
        if not conn.keep or self._stopping:
            self._drop(conn)
            return
        conn.last = time.monotonic()
        self._selector.modify(conn.sock, selectors.EVENT_READ, conn)
        self._advance(conn)

    def _sweep(self) -> None:
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + 0.1
        for conn in list(self._conns.values()):
            if conn.busy:
                continue
            if conn.out is not None:
                if now - conn.out_since > self.write_timeout:
                    self._drop(conn)
            elif conn.started is not None and now - conn.started > self.request_timeout:
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
            conn, data, keep = self._returned.popleft()
            conn.busy = False
            if self._stopping or conn.sock.fileno() < 0:
                self._drop(conn)
                continue
            self._selector.register(conn.sock, selectors.EVENT_READ, conn)
            self._send(conn, data, keep)
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

    # -- answering -------------------------------------------------------------------------------

    def _call(self, request: Request) -> Response:
        try:
            return self.handler(request)
        except Exception as exc:  # a bug: the service's 500, without the traceback
            return self.error(500, "ServiceException", f"internal error ({type(exc).__name__})")

    def _work(self, conn: _Conn, request: Request, keep: bool) -> None:
        """A worker answers a blocking request; the I/O thread writes the answer."""
        started = time.monotonic()
        response = self._call(request)
        self._log(request, response, started)
        self._returned.append((conn, _encode(response, keep=keep), keep))
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
