"""The HTTP face: the local service behind the Lambda REST routes boto3 uses, on 127.0.0.1.

``boto3.client("lambda", endpoint_url=server.url, ...)`` can then start executions (``invoke``), read them
(``get_durable_execution``, ``get_durable_execution_history``, ``list_durable_executions_by_function``),
send callbacks, stop executions, and checkpoint (``checkpoint_durable_execution``,
``get_durable_execution_state``), exactly as against AWS. Timestamps in JSON bodies are epoch seconds;
errors are REST-JSON errors with the ``x-amzn-ErrorType`` header, so botocore reports the right ``Code``.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs
import orjson

from replayflow._errors import ServiceError
from replayflow._wire import CheckpointRequest, GetStateRequest, OperationDict

from ._http import HttpServer, Request, Response, json_error
from .errors import ConfigurationError, InvalidParameterValueError, ResourceNotFoundError, SerializationError
from .reads import ExecutionQuery
from .service import LocalDurableService

if TYPE_CHECKING:
    from replayflow.console import Console

__all__ = ["LocalHttpServer", "api_name", "request_line", "serve"]

_DURABLE = "2025-12-01"
_LAMBDA = "2015-03-31"


def _seconds(ms: int) -> float:
    return ms / 1000


def _rest_operation(op: OperationDict) -> dict[str, Any]:
    """An operation with its epoch-ms timestamps as epoch seconds (the REST JSON encoding)."""
    out: dict[str, Any] = dict(op)
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
    if value.lower() not in ("true", "false"):
        raise InvalidParameterValueError(f"Expected true or false, got {value[:40]!r}.")
    return value.lower() == "true"


def _int(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise InvalidParameterValueError(f"Expected an integer, got {value[:40]!r}.") from exc


def _timestamp(value: str | None) -> _dt.datetime | None:
    if not value:
        return None
    try:
        return _dt.datetime.fromtimestamp(float(value), tz=_dt.UTC)
    except (OverflowError, OSError) as exc:
        raise InvalidParameterValueError(f"Timestamp {value[:40]!r} is out of range.") from exc
    except ValueError:
        pass
    try:
        parsed = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidParameterValueError(f"Invalid timestamp {value[:40]!r}.") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=_dt.UTC)


def _body_json(body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise SerializationError(f"the request body is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise SerializationError("the request body must be a JSON object")
    return value


def _json(value: Any, label: str, status: int = 200) -> Response:
    return Response(status, orjson.dumps(value), _JSON_HEADERS, label)


def _service_error(error: ServiceError, label: str) -> Response:
    response = json_error(error.status or 500, error.code, error.message)
    return attrs.evolve(response, label=label)


_JSON_HEADERS = {"Content-Type": "application/json", "x-amzn-RequestId": "local"}
_API_PREFIXES = (_DURABLE, _LAMBDA)
_STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "STOPPED")

Page = Callable[[Request], Response]
"""A handler for a non-API ``GET`` path (the web console and its static files mount here): it gets a
:class:`replayflow.local.HttpRequest` and answers a :class:`replayflow.local.HttpResponse`."""


_EXECUTION_APIS = {
    ("GET", None): "GetDurableExecution",
    ("POST", "checkpoint"): "CheckpointDurableExecution",
    ("GET", "state"): "GetDurableExecutionState",
    ("GET", "history"): "GetDurableExecutionHistory",
    ("POST", "stop"): "StopDurableExecution",
}
_CALLBACK_APIS = {
    "succeed": "SendDurableExecutionCallbackSuccess",
    "fail": "SendDurableExecutionCallbackFailure",
    "heartbeat": "SendDurableExecutionCallbackHeartbeat",
}


def api_name(method: str, seg: list[str]) -> str | None:
    """The Lambda API a request calls, from its method and path segments (``None``: not an API route)."""
    if len(seg) < 3:
        return None
    if seg[0] == _DURABLE:
        return _durable_api(method, seg)
    if len(seg) == 4 and seg[0] == _LAMBDA and seg[1] == "functions" and seg[3] == "invocations":
        return "Invoke" if method == "POST" else None
    return None


def _durable_api(method: str, seg: list[str]) -> str | None:
    """:func:`api_name` for the durable API's paths (``/2025-12-01/...``)."""
    resource = seg[1]
    if resource == "durable-executions":
        return _EXECUTION_APIS.get((method, seg[3] if len(seg) > 3 else None)) if len(seg) <= 4 else None
    if len(seg) != 4:
        return None
    if resource == "durable-execution-callbacks":
        return _CALLBACK_APIS.get(seg[3]) if method == "POST" else None
    if resource == "functions" and seg[3] == "durable-executions" and method == "GET":
        return "ListDurableExecutionsByFunction"
    return None


class _Api:
    """The durable API routes over one service: ``handle(request)`` answers every request."""

    def __init__(self, service: LocalDurableService, pages: dict[str, Page]) -> None:
        self.service = service
        self.pages = pages
        #: the web console (replayflow.console): its pages, and no cross-site browser calls to the API
        self.console: Console | None = None
        self._apis: dict[str, Callable[[Request, list[str]], Response]] = {
            "GetDurableExecution": self._describe,
            "CheckpointDurableExecution": self._checkpoint,
            "GetDurableExecutionState": self._state,
            "GetDurableExecutionHistory": self._history,
            "StopDurableExecution": self._stop,
            "SendDurableExecutionCallbackSuccess": self._callback_success,
            "SendDurableExecutionCallbackFailure": self._callback_failure,
            "SendDurableExecutionCallbackHeartbeat": self._callback_heartbeat,
            "ListDurableExecutionsByFunction": self._list,
            "Invoke": self._invoke,
        }

    def handle(self, request: Request) -> Response:
        """The one dispatch point: an API route, a mounted page (non-API ``GET``), or 404."""
        seg = request.segments
        api = api_name(request.method, seg)
        label = api or request.path
        if self.console is not None:
            rest_api = bool(seg) and seg[0] in _API_PREFIXES
            answer = self.console.intercept(
                request.method, request.target, rest_api, _Caseless(request.headers), request.body
            )
            if answer is not None:
                status, body, headers = answer
                return Response(status, body, headers, label)
        try:
            if api is not None:
                return self._apis[api](request, seg)
            if request.method == "GET" and (not seg or seg[0] not in _API_PREFIXES):
                page = self.pages.get(seg[0] if seg else "")
                if page is not None:
                    return page(request)
            raise ResourceNotFoundError(f"Unknown route {request.method} {request.path[:200]}")
        except ServiceError as error:
            return _service_error(error, label)

    @staticmethod
    def is_blocking(request: Request) -> bool:
        """Invokes go to the worker pool: a synchronous one waits for its execution, and any Invoke of a
        plain (non-durable) function runs it. Every other API call is answered on the I/O thread."""
        return request.path.endswith("/invocations")

    def _describe(self, request: Request, seg: list[str]) -> Response:
        include = _bool(_one(request, "IncludeExecutionData"), True)
        return _json(self.service.describe(seg[2], include_data=include, timestamp=_seconds), "GetDurableExecution")

    def _checkpoint(self, request: Request, seg: list[str]) -> Response:
        body = _body_json(request.body)  # checked by the service
        checkpoint: CheckpointRequest = {
            "DurableExecutionArn": seg[2],
            "CheckpointToken": body.get("CheckpointToken", ""),  # "" is never a token
            "Updates": body.get("Updates", []),
        }
        if "ClientToken" in body:
            checkpoint["ClientToken"] = body["ClientToken"]
        response = self.service.checkpoint_durable_execution(checkpoint)
        state = response["NewExecutionState"]
        rest: dict[str, Any] = {
            "NewExecutionState": {"Operations": [_rest_operation(op) for op in state["Operations"]]}
        }
        if state.get("NextMarker"):
            rest["NewExecutionState"]["NextMarker"] = state["NextMarker"]
        if "CheckpointToken" in response:
            rest["CheckpointToken"] = response["CheckpointToken"]
        return _json(rest, "CheckpointDurableExecution")

    def _state(self, request: Request, seg: list[str]) -> Response:
        state_request: GetStateRequest = {
            "DurableExecutionArn": seg[2],
            "CheckpointToken": _one(request, "CheckpointToken") or "",  # "" is never a token
        }
        marker = _one(request, "Marker")
        if marker:
            state_request["Marker"] = marker
        max_items = _int(_one(request, "MaxItems"))
        if max_items is not None:
            state_request["MaxItems"] = max_items
        page = self.service.get_durable_execution_state(state_request)
        out: dict[str, Any] = {"Operations": [_rest_operation(op) for op in page["Operations"]]}
        if page.get("NextMarker"):
            out["NextMarker"] = page["NextMarker"]
        return _json(out, "GetDurableExecutionState")

    def _history(self, request: Request, seg: list[str]) -> Response:
        out = self.service.history(
            seg[2],
            include_data=_bool(_one(request, "IncludeExecutionData"), True),
            max_items=_int(_one(request, "MaxItems")),
            marker=_one(request, "Marker"),
            reverse=_bool(_one(request, "ReverseOrder"), False),
            timestamp=_seconds,
        )
        return _json(out, "GetDurableExecutionHistory")

    def _stop(self, request: Request, seg: list[str]) -> Response:
        error = _body_json(request.body) if request.body else None  # the body is the ErrorObject
        stopped = self.service.stop_durable_execution(seg[2], error or None)
        return _json({"StopTimestamp": stopped["StopTimestamp"].timestamp()}, "StopDurableExecution")

    def _callback_success(self, request: Request, seg: list[str]) -> Response:
        self.service.send_durable_execution_callback_success(seg[2], request.body or None)
        return _json({}, "SendDurableExecutionCallbackSuccess")

    def _callback_failure(self, request: Request, seg: list[str]) -> Response:
        error = _body_json(request.body) if request.body else None
        self.service.send_durable_execution_callback_failure(seg[2], error)
        return _json({}, "SendDurableExecutionCallbackFailure")

    def _callback_heartbeat(self, request: Request, seg: list[str]) -> Response:
        self.service.send_durable_execution_callback_heartbeat(seg[2])
        return _json({}, "SendDurableExecutionCallbackHeartbeat")

    def _list(self, request: Request, seg: list[str]) -> Response:
        params = request.query
        bad = [status for status in params.get("Statuses", []) if status not in _STATUSES]
        if bad:
            raise InvalidParameterValueError(f"Statuses must be among {', '.join(_STATUSES)}; got {bad[0][:40]!r}.")
        query = ExecutionQuery(
            qualifier=_one(request, "Qualifier"),
            name=_one(request, "DurableExecutionName"),
            statuses=params.get("Statuses"),
            started_after=_timestamp(_one(request, "StartedAfter")),
            started_before=_timestamp(_one(request, "StartedBefore")),
            reverse=_bool(_one(request, "ReverseOrder"), False),
            marker=_one(request, "Marker"),
            max_items=_int(_one(request, "MaxItems")),
        )
        out = self.service.list_executions(seg[2], query, timestamp=_seconds)
        return _json(out, "ListDurableExecutionsByFunction")

    def _invoke(self, request: Request, seg: list[str]) -> Response:
        headers = request.headers
        response = self.service.invoke(
            seg[2],
            request.body,
            InvocationType=headers.get("x-amz-invocation-type") or "RequestResponse",
            DurableExecutionName=headers.get("x-amz-durable-execution-name"),
            Qualifier=_one(request, "Qualifier"),
            TenantId=headers.get("x-amz-tenant-id"),
        )
        out = {"X-Amz-Executed-Version": response.get("ExecutedVersion", "$LATEST"), "x-amzn-RequestId": "local"}
        if "DurableExecutionArn" in response:
            out["X-Amz-Durable-Execution-Arn"] = response["DurableExecutionArn"]
        if "FunctionError" in response:
            out["X-Amz-Function-Error"] = response["FunctionError"]
        return Response(response["StatusCode"], response.get("Payload") or b"", out, "Invoke")


def _one(request: Request, name: str) -> str | None:
    values = request.query.get(name)
    return values[0] if values else None


RequestLogger = Callable[[str], None]


def request_line(request: Request | None, response: Response, seconds: float) -> str:
    """The request log's line for one answered request: method, API (or path), status, milliseconds."""
    method = request.method if request is not None else "-"
    label = response.label or (request.path[:80] if request is not None else "(unreadable request)")
    return f"{method} {label} {response.status} {seconds * 1000:.1f} ms"


class LocalHttpServer:
    """The service over HTTP on ``host`` (127.0.0.1 only) and ``port`` (0 = any free port).

    :meth:`start` serves in a background thread and starts the service's background drivers (so
    executions progress between requests); :meth:`close` stops both. ``url`` is the endpoint for boto3.
    ``log`` gets one line per answered request (see :func:`request_line`); ``invoke_workers`` threads
    answer Invokes (API calls are answered on the I/O thread); ``max_body_bytes`` (default: the
    service's synchronous Invoke limit), ``request_timeout`` and ``idle_timeout`` bound each connection
    (see :mod:`replayflow.local._http`). :meth:`mount` serves non-API ``GET`` paths. ``console``: serve the
    web console (:mod:`replayflow.console`) on the paths the REST API does not use.
    """

    def __init__(
        self,
        service: LocalDurableService,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        workers: int = 2,
        log: RequestLogger | None = None,
        console: bool = True,
        invoke_workers: int = 32,
        max_body_bytes: int | None = None,
        request_timeout: float = 10.0,
        idle_timeout: float = 60.0,
    ) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ConfigurationError("the local durable service only listens on the loopback interface")
        self.service = service
        self.workers = workers
        self.pages: dict[str, Page] = {}
        self._api = _Api(service, self.pages)
        self._http = HttpServer(
            (host, port),
            self._api.handle,
            error=json_error,
            name="replayflow-http",
            blocking_workers=invoke_workers,
            is_blocking=self._api.is_blocking,
            max_body_bytes=service.limits.invoke_payload_bytes if max_body_bytes is None else max_body_bytes,
            request_timeout=request_timeout,
            idle_timeout=idle_timeout,
            log=(lambda req, resp, sec: log(request_line(req, resp, sec))) if log is not None else None,
        )
        if console:
            from replayflow.console import Console

            self._api.console = Console(service, self.port)
        self._started = False

    @property
    def port(self) -> int:
        """The bound port."""
        return self._http.address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def http(self) -> HttpServer:
        """The HTTP server underneath (connection and thread counts)."""
        return self._http

    def mount(self, prefix: str, page: Page) -> None:
        """Answer ``GET /<prefix>...`` with ``page`` (``""``: the root URL); API paths cannot be mounted."""
        if prefix in _API_PREFIXES:
            raise ConfigurationError(f"{prefix!r} is an API path")
        self.pages[prefix] = page

    def start(self) -> LocalHttpServer:
        """Serve in a background thread (does nothing if already serving)."""
        if self._started:
            return self
        self._started = True
        if not self.service.driving:
            self.service.start(self.workers)
        self._http.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (what ``replayflow serve`` does)."""
        self._started = True
        if not self.service.driving:
            self.service.start(self.workers)
        self._http.serve_forever()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> LocalHttpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve(
    service: LocalDurableService, *, port: int = 0, workers: int = 2, log: RequestLogger | None = None
) -> LocalHttpServer:
    """Start serving ``service`` on 127.0.0.1:``port`` in the background; returns the running server."""
    return LocalHttpServer(service, port=port, workers=workers, log=log).start()


class _Caseless:
    """Request headers looked up by any case (the HTTP server keeps them lower-case)."""

    __slots__ = ("_headers",)

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._headers = headers

    def get(self, name: str, /) -> str | None:
        return self._headers.get(name.lower())
