"""Connection hygiene of the HTTP faces, over real sockets: bad requests get 4xx in the service's error shape
(never a traceback, never a 500, never a dropped connection without an answer), bodies over the limit are
refused before they are read, slow or idle clients cannot hold threads, and connections are kept alive."""

from __future__ import annotations

import json
import socket
import time
import weakref
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from botocore.exceptions import ClientError

import replayflow
from replayflow.local import HttpRequest as Request
from replayflow.local import HttpResponse as Response
from replayflow.local import LambdaInvokeServer, LocalDurableService, LocalHttpServer, RealClock


@replayflow.durable
def echo(input: Any, ctx: Any) -> Any:
    return (yield ctx.step(lambda: input, name="echo"))


@pytest.fixture
def server() -> Iterator[LocalHttpServer]:
    service = LocalDurableService(clock=RealClock())
    service.register("echo", echo)
    lines: list[str] = []
    http = LocalHttpServer(service, log=lines.append, console=False, invoke_workers=4, request_timeout=1.0)
    http.lines = lines  # type: ignore[attr-defined]
    with http:
        yield http
    service.close()


def client(url: str) -> Any:
    return boto3.client(
        "lambda", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def exchange(port: int, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``raw`` and read one answer (status, lower-case headers, body) up to its Content-Length."""
    with connect(port) as sock:
        sock.sendall(raw)
        answer = read_response(sock)
        READERS.pop(sock, None)
        return answer


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One answer from ``sock`` (bytes after it stay in the socket's reader, for the next call)."""
    reader = READERS.get(sock) or READERS.setdefault(sock, sock.makefile("rb"))
    status_line = reader.readline()
    assert status_line, "the server closed the connection without an answer"
    status = int(status_line.split()[1])
    headers: dict[str, str] = {}
    while (line := reader.readline()) not in (b"\r\n", b""):
        key, _, value = line.decode("latin-1").partition(":")
        headers[key.lower()] = value.strip()
    body = reader.read(int(headers.get("content-length", 0)))
    return status, headers, body


READERS: weakref.WeakKeyDictionary[socket.socket, Any] = weakref.WeakKeyDictionary()


def closed(sock: socket.socket) -> bool:
    """Whether the server closed ``sock`` (after the answers already read)."""
    reader = READERS.pop(sock, None)
    return (reader.read(1) if reader is not None else sock.recv(1)) == b""


def assert_service_error(answer: tuple[int, dict[str, str], bytes], status: int, code: str) -> dict[str, Any]:
    got_status, headers, body = answer
    assert (got_status, headers.get("x-amzn-errortype")) == (status, code), answer
    error: dict[str, Any] = json.loads(body)
    assert set(error) == {"Type", "message"} and "Traceback" not in error["message"]
    return error


def eventually(condition: Any, bound: float = 30) -> bool:
    """Whether ``condition()`` holds within ``bound`` seconds (a bound on a hang only: the I/O thread may be
    kept off the CPU for a while on a loaded machine)."""
    deadline = time.monotonic() + bound
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def still_serving(server: LocalHttpServer) -> None:
    assert client(server.url).list_durable_executions_by_function(FunctionName="echo")["DurableExecutions"] == []


@pytest.mark.parametrize("length", [b"abc", b"-1", b"1.5", b"0x10", b"", b"5, 6"])
def test_a_bad_content_length_is_a_400(server: LocalHttpServer, length: bytes) -> None:
    raw = (
        b"POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: x\r\nContent-Length: " + length + b"\r\n\r\n{}"
    )
    assert_service_error(exchange(server.port, raw), 400, "InvalidRequestContentException")
    still_serving(server)


@pytest.mark.parametrize("length", [b"1073741824", b"99999999999999999999999999999999"])
def test_a_huge_body_is_refused_before_it_is_read(server: LocalHttpServer, length: bytes) -> None:
    with connect(server.port) as sock:
        # only the head is sent: the answer must come without the server waiting for the body
        sock.sendall(b"POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nContent-Length: " + length + b"\r\n\r\n")
        error = assert_service_error(read_response(sock), 413, "RequestTooLargeException")
        assert str(6 * 1024 * 1024) in error["message"]
        assert closed(sock)  # and the connection is closed (its body will never be read)
    assert server.service.calls["Invoke"] == 0
    still_serving(server)


@pytest.mark.parametrize(
    "raw",
    [
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET  HTTP/1.1\r\n\r\n",
        b"GET /x HTTP/1.1\r\nno colon here\r\n\r\n",
        b"POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"2\r\n{}\r\n0\r\n\r\n",
        b"POST /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    ],
)
def test_a_malformed_request_is_a_400(server: LocalHttpServer, raw: bytes) -> None:
    assert_service_error(exchange(server.port, raw), 400, "InvalidRequestContentException")
    still_serving(server)


def test_a_head_too_large_is_a_431(server: LocalHttpServer) -> None:
    raw = b"GET /x HTTP/1.1\r\nX-Big: " + b"a" * (70 * 1024) + b"\r\n\r\n"
    assert_service_error(exchange(server.port, raw), 431, "RequestHeaderFieldsTooLarge")


@pytest.mark.parametrize(
    "query",
    ["StartedAfter=1e30", "StartedBefore=-1e30", "StartedAfter=nan", "StartedAfter=yesterday", "MaxItems=abc",
     "MaxItems=-5", "Marker=abc", "ReverseOrder=maybe", "Statuses=BOGUS"],
)  # fmt: skip
def test_bad_list_parameters_are_400(server: LocalHttpServer, query: str) -> None:
    raw = f"GET /2025-12-01/functions/echo/durable-executions?{query} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    assert_service_error(exchange(server.port, raw), 400, "InvalidParameterValueException")


def test_bad_history_parameters_and_bodies_are_400(server: LocalHttpServer) -> None:
    lam = client(server.url)
    arn = lam.invoke(FunctionName="echo", Payload=b"1")["DurableExecutionArn"]
    path = f"/2025-12-01/durable-executions/{quote(arn, safe='')}"
    for target in (f"{path}/history?Marker=-1", f"{path}?IncludeExecutionData=maybe", f"{path}/history?MaxItems=x"):
        answer = exchange(server.port, f"GET {target} HTTP/1.1\r\n\r\n".encode())
        assert_service_error(answer, 400, "InvalidParameterValueException")
    for body in (b"not json", b"[1, 2]"):
        raw = f"POST {path}/checkpoint HTTP/1.1\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
        assert_service_error(exchange(server.port, raw), 400, "SerializationException")


@pytest.mark.parametrize("payload", [b"not json", b"{", b"\xff\xfe"])
@pytest.mark.parametrize("invocation_type", ["Event", "RequestResponse"])
def test_a_non_json_invoke_payload_is_refused(server: LocalHttpServer, payload: bytes, invocation_type: str) -> None:
    with pytest.raises(ClientError) as refused:
        client(server.url).invoke(FunctionName="echo", InvocationType=invocation_type, Payload=payload)
    assert refused.value.response["Error"]["Code"] == "InvalidRequestContentException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert list(server.service.executions()) == []


def test_a_bug_is_a_500_without_a_traceback(server: LocalHttpServer) -> None:
    def broken(request: Request) -> Response:
        raise KeyError("secret internals")

    server.mount("console", broken)
    error = assert_service_error(exchange(server.port, b"GET /console/x HTTP/1.1\r\n\r\n"), 500, "ServiceException")
    assert "secret" not in error["message"] and error["Type"] == "Service"
    assert exchange(server.port, b"GET / HTTP/1.1\r\n\r\n")[0] == 404  # nothing mounted at the root yet
    server.mount("", lambda request: Response(200, b"console", {"Content-Type": "text/html"}, "console"))
    assert exchange(server.port, b"GET / HTTP/1.1\r\n\r\n")[2] == b"console"
    with pytest.raises(ValueError):
        server.mount("2025-12-01", broken)


def test_slow_and_idle_clients_hold_no_threads(server: LocalHttpServer) -> None:
    lam = client(server.url)
    lam.invoke(FunctionName="echo", Payload=b"1")
    threads = server.http.threads
    server.http.max_connections = 2000  # this test is about threads, not the connection cap
    slow = [connect(server.port) for _ in range(1000)]  # the 1,000 slowloris connections
    for sock in slow[:500]:
        sock.sendall(b"GET /2025-12-01/functions/echo/durable-executions HTTP/1.1\r\nHost: x\r\n")  # never finished
    assert json.loads(lam.invoke(FunctionName="echo", Payload=b"2")["Payload"].read()) == 2
    # No thread for the slow clients: they would fill the Invoke pool (4). The second invoke may have started
    # one more worker, if it came before the first invoke's worker was idle again.
    assert server.http.threads <= threads + 1 < 1 + 4
    # the trickling ones are answered 408 after request_timeout (1 s); the idle ones stay open, costing no thread
    for sock in slow[:500]:
        assert_service_error(read_response(sock), 408, "RequestTimeoutException")
        assert closed(sock)
    assert server.http.connections >= 500
    for sock in slow:
        READERS.pop(sock, None)
        sock.close()


def test_connections_are_capped_by_evicting_the_longest_idle(server: LocalHttpServer) -> None:
    server.http.max_connections = 20
    idle = [connect(server.port) for _ in range(20)]
    assert eventually(lambda: server.http.connections == 20)  # all accepted
    still_serving(server)  # a new connection evicts the idle one that waited longest
    assert closed(idle[0])
    assert server.http.connections <= 20
    for sock in idle:
        sock.close()


def test_keep_alive_and_pipelined_requests_on_one_connection(server: LocalHttpServer) -> None:
    request = b"GET /2025-12-01/functions/echo/durable-executions HTTP/1.1\r\nHost: x\r\n\r\n"
    with connect(server.port) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(request * 3)  # pipelined: answered in order, on the same connection
        for _ in range(3):
            status, headers, body = read_response(sock)
            assert status == 200 and "connection" not in headers and json.loads(body) == {"DurableExecutions": []}
        sock.sendall(request.replace(b"Host: x", b"Connection: close"))
        status, headers, _ = read_response(sock)
        assert status == 200 and headers["connection"] == "close"
        assert closed(sock)
    assert eventually(lambda: server.http.connections == 0)


def test_one_line_per_request_in_the_log(server: LocalHttpServer) -> None:
    lam = client(server.url)
    arn = lam.invoke(FunctionName="echo", Payload=b"1")["DurableExecutionArn"]
    lam.get_durable_execution(DurableExecutionArn=arn)
    with pytest.raises(ClientError):
        lam.get_durable_execution(DurableExecutionArn=arn + "x")
    exchange(server.port, b"GARBAGE\r\n\r\n")
    lines: list[str] = server.lines  # type: ignore[attr-defined]
    eventually(lambda: len(lines) >= 4)  # (the assertion below says what came)
    fields = [line.split(" ")[:3] for line in lines]
    assert fields == [
        ["POST", "Invoke", "200"],
        ["GET", "GetDurableExecution", "200"],
        ["GET", "GetDurableExecution", "404"],
        ["-", "(unreadable", "request)"],
    ]
    assert all(line.endswith(" ms") for line in lines)


@pytest.fixture
def lambdas() -> Iterator[LambdaInvokeServer]:
    with LambdaInvokeServer({"echo": lambda event, context: event}, workers=2, request_timeout=1.0) as running:
        yield running


def test_the_invoke_endpoint_refuses_bad_requests(lambdas: LambdaInvokeServer) -> None:
    port = int(lambdas.url.rsplit(":", 1)[1])
    lam = client(lambdas.url)
    assert json.loads(lam.invoke(FunctionName="echo", Payload=b'{"a": 1}')["Payload"].read()) == {"a": 1}
    with pytest.raises(ClientError) as refused:
        lam.invoke(FunctionName="echo", Payload=b"not json")
    assert refused.value.response["Error"]["Code"] == "InvalidRequestContentException"
    path = b"POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\n"
    assert_service_error(exchange(port, path + b"Content-Length: zz\r\n\r\n"), 400, "InvalidRequestContentException")
    with connect(port) as sock:
        sock.sendall(path + b"Content-Length: 1073741824\r\n\r\n")
        assert_service_error(read_response(sock), 413, "RequestTooLargeException")
    slow = [connect(port) for _ in range(100)]
    for sock in slow:
        sock.sendall(path + b"Content-Length: 10\r\n\r\n{")  # a body that never completes
    assert json.loads(lam.invoke(FunctionName="echo", Payload=b"3")["Payload"].read()) == 3
    assert lambdas.http.threads <= 1 + 2
    for sock in slow:
        assert_service_error(read_response(sock), 408, "RequestTimeoutException")
        READERS.pop(sock, None)
        sock.close()
    assert [name for name, _ in lambdas.invocations] == ["echo", "echo"]


def test_a_client_that_does_not_read_its_answer_holds_nothing(server: LocalHttpServer) -> None:
    big = bytes(range(256)) * (64 * 1024)  # 16 MiB: far more than a socket buffer takes at once
    server.mount("big", lambda request: Response(200, big, {"Content-Type": "application/octet-stream"}, "big"))
    with connect(server.port) as lazy:
        lazy.sendall(b"GET /big HTTP/1.1\r\n\r\n")
        time.sleep(0.2)
        still_serving(server)  # the I/O thread is not stuck writing to the lazy client
        status, _, body = read_response(lazy)  # the rest of the answer went out as the client read it
        assert status == 200 and body == big
        READERS.pop(lazy, None)
    with connect(server.port) as stuck:
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.sendall(b"GET /big HTTP/1.1\r\n\r\n")

        def writing() -> int:  # connections with an answer still waiting for the client to take it
            while True:
                try:
                    return sum(conn.out is not None for conn in list(server.http._conns.values()))
                except RuntimeError:  # the I/O thread changed the table meanwhile
                    continue

        assert eventually(lambda: writing() == 1)  # (the default write_timeout, 30 s, keeps it meanwhile)
        server.http.write_timeout = 0.5
        assert eventually(lambda: writing() == 0)  # dropped once write_timeout (0.5 s) passed
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # reset
    still_serving(server)
