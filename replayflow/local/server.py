"""The HTTP face: the local service behind the Lambda REST routes boto3 uses, on 127.0.0.1.

``boto3.client("lambda", endpoint_url=server.url, ...)`` can then start executions (``invoke``), read them
(``get_durable_execution``, ``get_durable_execution_history``, ``list_durable_executions_by_function``),
send callbacks, stop executions, and checkpoint (``checkpoint_durable_execution``,
``get_durable_execution_state``), exactly as against AWS. Timestamps in JSON bodies are epoch seconds;
errors are REST-JSON errors with the ``x-amzn-ErrorType`` header, so botocore reports the right ``Code``.
"""

from __future__ import annotations

import datetime as _dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

from replayflow._errors import ServiceError

from .errors import invalid_parameter, not_found
from .service import LocalDurableService

if TYPE_CHECKING:
    from replayflow.console import Console

__all__ = ["LocalHttpServer", "serve"]

_DURABLE = "2025-12-01"
_LAMBDA = "2015-03-31"


def _seconds(ms: int) -> float:
    return ms / 1000


def _rest_operation(op: Any) -> dict[str, Any]:
    """An operation with its epoch-ms timestamps as epoch seconds (the REST JSON encoding)."""
    out = dict(op)
    for key in ("StartTimestamp", "EndTimestamp"):
        if key in out:
            out[key] = out[key] / 1000
    step = out.get("StepDetails")
    if step and "NextAttemptTimestamp" in step:
        out["StepDetails"] = {**step, "NextAttemptTimestamp": step["NextAttemptTimestamp"] / 1000}
    wait = out.get("WaitDetails")
    if wait and "ScheduledEndTimestamp" in wait:
        out["WaitDetails"] = {**wait, "ScheduledEndTimestamp": wait["ScheduledEndTimestamp"] / 1000}
    return out


def _bool(value: str | None, default: bool) -> bool:
    if value is None:
        return default
    return value.lower() == "true"


def _int(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise invalid_parameter(f"Expected an integer, got {value!r}.") from exc


def _timestamp(value: str | None) -> _dt.datetime | None:
    if not value:
        return None
    try:
        return _dt.datetime.fromtimestamp(float(value), tz=_dt.UTC)
    except ValueError:
        pass
    try:
        parsed = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise invalid_parameter(f"Invalid timestamp {value!r}.") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=_dt.UTC)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        raw_path, _, query = self.path.partition("?")
        segments = [unquote(s) for s in raw_path.split("/")[1:]]
        params = parse_qs(query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        console = self.server.console
        if console is not None:  # the web console's pages, and no cross-site browser calls (replayflow.console)
            answer = console.intercept(method, self.path, segments[0] in (_DURABLE, _LAMBDA), self.headers, body)
            if answer is not None:
                return self._send(*answer)
        try:
            self._route(method, segments, params, body)
        except ServiceError as error:
            self._error(error)
        except Exception as exc:  # a bug: answer like the service's 500
            self._error(ServiceError("ServiceException", f"{type(exc).__name__}: {exc}", status=500))

    def _route(self, method: str, seg: list[str], params: dict[str, list[str]], body: bytes) -> None:
        service = self.server.service

        def one(name: str) -> str | None:
            values = params.get(name)
            return values[0] if values else None

        if len(seg) >= 3 and seg[0] == _DURABLE and seg[1] == "durable-executions":
            arn = seg[2]
            action = seg[3] if len(seg) > 3 else None
            if method == "GET" and action is None:
                out = service.describe(arn, include_data=_bool(one("IncludeExecutionData"), True), timestamp=_seconds)
                return self._json(200, out)
            if method == "POST" and action == "checkpoint":
                request = self._body_json(body)
                request["DurableExecutionArn"] = arn
                response = service.checkpoint_durable_execution(request)  # type: ignore[arg-type]
                state = response["NewExecutionState"]
                rest: dict[str, Any] = {
                    "NewExecutionState": {"Operations": [_rest_operation(op) for op in state["Operations"]]}
                }
                if state.get("NextMarker"):
                    rest["NewExecutionState"]["NextMarker"] = state["NextMarker"]
                if "CheckpointToken" in response:
                    rest["CheckpointToken"] = response["CheckpointToken"]
                return self._json(200, rest)
            if method == "GET" and action == "state":
                state_request: dict[str, Any] = {"DurableExecutionArn": arn, "CheckpointToken": one("CheckpointToken")}
                if one("Marker"):
                    state_request["Marker"] = one("Marker")
                if _int(one("MaxItems")) is not None:
                    state_request["MaxItems"] = _int(one("MaxItems"))
                page = service.get_durable_execution_state(state_request)  # type: ignore[arg-type]
                out = {"Operations": [_rest_operation(op) for op in page["Operations"]]}
                if page.get("NextMarker"):
                    out["NextMarker"] = page["NextMarker"]
                return self._json(200, out)
            if method == "GET" and action == "history":
                out = service.history(
                    arn,
                    include_data=_bool(one("IncludeExecutionData"), True),
                    max_items=_int(one("MaxItems")),
                    marker=one("Marker"),
                    reverse=_bool(one("ReverseOrder"), False),
                    timestamp=_seconds,
                )
                return self._json(200, out)
            if method == "POST" and action == "stop":
                error = self._body_json(body) if body else None
                stopped = service.stop_durable_execution(arn, error or None)
                return self._json(200, {"StopTimestamp": stopped["StopTimestamp"].timestamp()})
        if len(seg) == 4 and seg[0] == _DURABLE and seg[1] == "durable-execution-callbacks" and method == "POST":
            callback_id, action = seg[2], seg[3]
            if action == "succeed":
                service.send_durable_execution_callback_success(callback_id, body if body else None)
                return self._json(200, {})
            if action == "fail":
                service.send_durable_execution_callback_failure(callback_id, self._body_json(body) if body else None)
                return self._json(200, {})
            if action == "heartbeat":
                service.send_durable_execution_callback_heartbeat(callback_id)
                return self._json(200, {})
        if len(seg) == 4 and seg[0] == _DURABLE and seg[1] == "functions" and seg[3] == "durable-executions":
            out = service.list_executions(
                seg[2],
                qualifier=one("Qualifier"),
                name=one("DurableExecutionName"),
                statuses=params.get("Statuses"),
                started_after=_timestamp(one("StartedAfter")),
                started_before=_timestamp(one("StartedBefore")),
                reverse=_bool(one("ReverseOrder"), False),
                marker=one("Marker"),
                max_items=_int(one("MaxItems")),
                timestamp=_seconds,
            )
            return self._json(200, out)
        if len(seg) == 4 and seg[0] == _LAMBDA and seg[1] == "functions" and seg[3] == "invocations":
            return self._invoke(seg[2], one("Qualifier"), body)
        raise not_found(f"Unknown route {method} {'/'.join(seg)}")

    def _invoke(self, function_name: str, qualifier: str | None, body: bytes) -> None:
        service = self.server.service
        invocation_type = self.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        response = service.invoke(
            function_name,
            body,
            InvocationType=invocation_type,
            DurableExecutionName=self.headers.get("X-Amz-Durable-Execution-Name"),
            Qualifier=qualifier,
            TenantId=self.headers.get("X-Amz-Tenant-Id"),
        )
        headers = {"X-Amz-Executed-Version": response.get("ExecutedVersion", "$LATEST")}
        if "DurableExecutionArn" in response:
            headers["X-Amz-Durable-Execution-Arn"] = response["DurableExecutionArn"]
        if "FunctionError" in response:
            headers["X-Amz-Function-Error"] = response["FunctionError"]
        self._send(response["StatusCode"], response.get("Payload") or b"", headers)

    @staticmethod
    def _body_json(body: bytes) -> dict[str, Any]:
        if not body:
            return {}
        try:
            value = json.loads(body)
        except ValueError as exc:
            raise ServiceError("SerializationException", f"the request body is not JSON: {exc}", status=400) from exc
        if not isinstance(value, dict):
            raise ServiceError("SerializationException", "the request body must be a JSON object", status=400)
        return value

    def _json(self, status: int, value: Any) -> None:
        self._send(status, json.dumps(value).encode(), {"Content-Type": "application/json"})

    def _error(self, error: ServiceError) -> None:
        status = error.status or 500
        body = json.dumps({"Type": "User" if status < 500 else "Service", "message": error.message}).encode()
        self._send(status, body, {"Content-Type": "application/json", "x-amzn-ErrorType": error.code})

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", "local")
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # idle keep-alive connections must not hold up close()

    def __init__(self, address: tuple[str, int], service: LocalDurableService) -> None:
        super().__init__(address, _Handler)
        self.service = service
        self.console: Console | None = None


class LocalHttpServer:
    """The service over HTTP on ``host`` (127.0.0.1 only) and ``port`` (0 = any free port).

    :meth:`start` serves in a background thread and starts the service's background drivers (so
    executions progress between requests); :meth:`close` stops both. ``url`` is the endpoint for boto3.
    ``console``: serve the web console (:mod:`replayflow.console`) on the paths the REST API does not use.
    """

    def __init__(
        self,
        service: LocalDurableService,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        workers: int = 2,
        console: bool = True,
    ) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the local durable service only listens on the loopback interface")
        self.service = service
        self.workers = workers
        self._server = _Server((host, port), service)
        if console:
            from replayflow.console import Console

            self._server.console = Console(service, self.port)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LocalHttpServer:
        """Serve in a background thread (does nothing if already serving)."""
        if self._thread is not None:
            return self
        if not self.service.driving:
            self.service.start(self.workers)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="replayflow-http", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (what ``replayflow serve`` does)."""
        if not self.service.driving:
            self.service.start(self.workers)
        self._server.serve_forever()

    def close(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> LocalHttpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve(service: LocalDurableService, *, port: int = 0, workers: int = 2) -> LocalHttpServer:
    """Start serving ``service`` on 127.0.0.1:``port`` in the background; returns the running server."""
    return LocalHttpServer(service, port=port, workers=workers).start()
