"""The console's HTTP side: its page and static files, and a small JSON API over the local service.

Routes (everything else that is not the Lambda REST API lands here, see :class:`Console`):

* ``GET /`` the console page; ``GET /static/<file>`` its script and style sheet.
* ``GET /console/api/functions``: registered functions.
* ``GET /console/api/executions?status=&function=&name=&marker=&limit=``: one page, newest first, with
  each execution's usage; ``counts`` by status over the whole filter.
* ``GET /console/api/execution?arn=&known=``: :func:`~replayflow.console.execution_view` of one execution
  (``{"unchanged": true}`` when its last event is still ``known``).
* ``POST /console/api/callback`` ``{"callbackId", "action": "succeed"|"fail"|"heartbeat", "result"|"error"}``,
  ``POST /console/api/stop`` ``{"arn"}``, ``POST /console/api/start`` ``{"function", "input", "name"}``
  (guarded, see :mod:`._guard`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from replayflow._errors import ServiceError

from ._guard import Guard, Headers
from ._view import execution_view

if TYPE_CHECKING:
    from replayflow.local import LocalDurableService

__all__ = ["PAGE_LIMIT", "Console", "static_text"]

#: The most executions one list request answers.
PAGE_LIMIT = 200
_STATIC = {"console.js": "text/javascript", "console.css": "text/css"}
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

Reply = tuple[int, bytes, dict[str, str]]


def static_text(name: str) -> str:
    """A file shipped in ``replayflow/console/static``."""
    return (resources.files("replayflow.console") / "static" / name).read_text(encoding="utf-8")


def _ms(value: int) -> int:
    return value


def _names(arn: str) -> tuple[str, str]:
    """``(function name, execution name)`` from an execution ARN."""
    head, _, tail = arn.partition("/durable-execution/")
    parts = head.split(":")
    return (parts[6] if len(parts) > 6 else ""), tail.rsplit("/", 1)[0]


class _BadRequest(Exception):
    pass


class Console:
    """The web console of ``service``, served on 127.0.0.1:``port`` (``handle`` answers one request).

    ``poll_ms``: how often open pages ask for news while something runs.
    """

    def __init__(
        self, service: LocalDurableService, port: int, *, token: str | None = None, poll_ms: int = 1000
    ) -> None:
        self.service = service
        self.guard = Guard(port, token)
        self.poll_ms = poll_ms
        self._usage: dict[str, dict[str, int]] = {}  # usage of ended executions (it no longer changes)

    def intercept(self, method: str, target: str, rest_api: bool, headers: Headers, body: bytes) -> Reply | None:
        """The server's one call: answer a console request, refuse a browser's cross-site call to the REST API
        (``rest_api``; e.g. a page elsewhere posting an Invoke), or ``None`` to let the REST API answer."""
        if not rest_api:
            return self.handle(method, target, headers, body)
        refused = self.guard.cross_site(headers)
        if refused is None:
            return None
        body = json.dumps({"Type": "User", "message": refused}).encode()
        return 403, body, {"Content-Type": "application/json", "x-amzn-ErrorType": "AccessDeniedException"}

    def handle(self, method: str, target: str, headers: Headers, body: bytes) -> Reply:
        """Answer one request: ``(status, body, headers)``."""
        refused = self.guard.refuse(method, headers)
        if refused is not None:
            return self._json(403, {"error": "Forbidden", "message": refused})
        url = urlsplit(target)
        params = parse_qs(url.query, keep_blank_values=True)
        try:
            return self._route(method, url.path, params, body)
        except ServiceError as error:
            return self._json(error.status or 500, {"error": error.code, "message": error.message})
        except _BadRequest as exc:
            return self._json(400, {"error": "BadRequest", "message": str(exc)})

    def _route(self, method: str, path: str, params: dict[str, list[str]], body: bytes) -> Reply:
        if method == "GET":
            reply = self._get(path, params)
            if reply is not None:
                return reply
        action = _POST_API.get(path) if method == "POST" else None
        if action is not None:
            return self._json(200, action(self, _json_object(body)))
        return self._json(404, {"error": "NotFound", "message": f"no console route {method} {path}"})

    def _get(self, path: str, params: Mapping[str, list[str]]) -> Reply | None:
        """The page, a static file or a GET of the JSON API (``None``: no such route)."""
        if path in ("/", "/index.html"):
            return self._page()
        if path.startswith("/static/") and path[8:] in _STATIC:
            return _static(path[8:])
        api = _GET_API.get(path)
        return None if api is None else self._json(200, api(self, params))

    # reading

    def _functions(self, params: Mapping[str, list[str]]) -> dict[str, object]:
        return {"functions": [{"name": n, "durable": d} for n, d in self.service.functions()]}

    def _execution(self, params: Mapping[str, list[str]]) -> dict[str, Any]:
        arn = _one(params, "arn", required=True) or ""
        known = _one(params, "known")
        return self.execution(arn, known=None if known is None else _int(known, 0))

    def list_executions(self, params: Mapping[str, list[str]]) -> dict[str, Any]:
        """One page of executions, newest first, filtered by status, function and name (a substring)."""
        statuses = {s for value in params.get("status", []) for s in value.split(",") if s}
        function = _one(params, "function")
        name = (_one(params, "name") or "").lower()
        start = _int(_one(params, "marker"), 0)
        limit = min(max(_int(_one(params, "limit"), 50), 1), PAGE_LIMIT)
        selected, counts = self._select(statuses, function, name)
        items = [self._row(arn) for arn in selected[start : start + limit]]
        out: dict[str, Any] = {"items": items, "total": len(selected), "counts": counts}
        if start + limit < len(selected):
            out["nextMarker"] = str(start + limit)
        return out

    def _select(self, statuses: set[str], function: str | None, name: str) -> tuple[list[str], dict[str, int]]:
        """The ARNs that pass the filter, newest first, and the counts by status (over function and name)."""
        counts: dict[str, int] = {}
        selected = []
        for view in reversed(list(self.service.executions())):
            if not _named_like(view.arn, function, name):
                continue
            counts[view.status] = counts.get(view.status, 0) + 1
            if not statuses or view.status in statuses:
                selected.append(view.arn)
        return selected, counts

    def _row(self, arn: str) -> dict[str, Any]:
        described = self.service.describe(arn, include_data=False, timestamp=_ms)
        function, _ = _names(arn)
        row = {
            "arn": arn,
            "name": described["DurableExecutionName"],
            "function": function,
            "status": described["Status"],
            "start": described["StartTimestamp"],
            "end": described.get("EndTimestamp"),
            "usage": self._usage_of(arn, described["Status"]),
        }
        if "Error" in described:
            row["errorType"] = described["Error"].get("ErrorType")
        return row

    def _usage_of(self, arn: str, status: str) -> dict[str, int]:
        cached = self._usage.get(arn)
        if cached is not None:
            return cached
        metered = self.service.usage(arn)  # as AWS meters it (a step's retries count): what the quotas apply to
        spent = {"operations": metered.operations, "bytes": metered.bytes_written, "invocations": metered.invocations}
        if status != "RUNNING":
            self._usage[arn] = spent
        return spent

    def _events(self, arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        marker: str | None = None
        while True:
            page = self.service.history(arn, marker=marker, max_items=1000, timestamp=_ms)
            events.extend(page["Events"])
            marker = page.get("NextMarker")
            if not marker:
                return events

    def execution(self, arn: str, *, known: int | None = None) -> dict[str, Any]:
        """The execution view of ``arn`` (see :func:`~replayflow.console.execution_view`).

        ``known``: the ``lastEventId`` of a view the caller holds; when no event came since, the answer is
        just ``{"unchanged": true}`` (one history event read, instead of the whole history).
        """
        if known is not None:
            last = self.service.history(arn, max_items=1, reverse=True, include_data=False, timestamp=_ms)
            if (last["Events"][0]["EventId"] if last["Events"] else 0) == known:
                return {"unchanged": True, "lastEventId": known}
        described = self.service.describe(arn, timestamp=_ms)
        events = self._events(arn)
        view = execution_view(described, events)
        view["usage"] = self._usage_of(arn, described["Status"])  # the service's metering, as in the list
        view["function"] = _names(arn)[0]
        view["lastEventId"] = events[-1]["EventId"] if events else 0
        return view

    # changing

    def _callback(self, request: dict[str, Any]) -> dict[str, Any]:
        callback_id = request.get("callbackId")
        action = request.get("action")
        if not isinstance(callback_id, str) or not callback_id:
            raise _BadRequest("callbackId must be a non-empty string")
        if action == "succeed":
            result = request.get("result", "")
            if not isinstance(result, str):
                raise _BadRequest("result must be the callback's result as text (JSON)")
            self.service.send_durable_execution_callback_success(callback_id, result)
        elif action == "fail":
            error = request.get("error") or {}
            if not isinstance(error, dict):
                raise _BadRequest("error must be an object with ErrorType and ErrorMessage")
            self.service.send_durable_execution_callback_failure(callback_id, error)
        elif action == "heartbeat":
            self.service.send_durable_execution_callback_heartbeat(callback_id)
        else:
            raise _BadRequest("action must be succeed, fail or heartbeat")
        return {"ok": True}

    def _stop(self, request: dict[str, Any]) -> dict[str, Any]:
        arn = request.get("arn")
        if not isinstance(arn, str):
            raise _BadRequest("arn must be a string")
        stopped = self.service.stop_durable_execution(arn, request.get("error") or None)
        return {"ok": True, "stopped": stopped["StopTimestamp"].timestamp() * 1000}

    def _start(self, request: dict[str, Any]) -> dict[str, Any]:
        function = request.get("function")
        payload = request.get("input", "null")
        name = request.get("name") or None
        if not isinstance(function, str) or not isinstance(payload, str):
            raise _BadRequest("function and input (JSON text) must be strings")
        try:
            json.loads(payload)
        except ValueError as exc:
            raise _BadRequest(f"the input is not JSON: {exc}") from exc
        if name is not None and not isinstance(name, str):
            raise _BadRequest("name must be a string")
        return {"arn": self.service.start_execution(function, payload, name=name)}

    # answers

    def _page(self) -> Reply:
        html = static_text("index.html")
        html = html.replace("{{TOKEN}}", self.guard.token).replace("{{POLL_MS}}", str(self.poll_ms))
        return 200, html.encode(), {"Content-Type": "text/html; charset=utf-8", **_SECURITY_HEADERS}

    @staticmethod
    def _json(status: int, value: object) -> Reply:
        body = json.dumps(value, separators=(",", ":")).encode()
        return status, body, {"Content-Type": "application/json", **_SECURITY_HEADERS}


#: The JSON API: a GET route's reader of the query parameters, a POST route's action on the request body.
_GET_API: dict[str, Callable[[Console, Mapping[str, list[str]]], Mapping[str, object]]] = {
    "/console/api/functions": Console._functions,
    "/console/api/executions": Console.list_executions,
    "/console/api/execution": Console._execution,
}
_POST_API: dict[str, Callable[[Console, dict[str, Any]], dict[str, Any]]] = {
    "/console/api/callback": Console._callback,
    "/console/api/stop": Console._stop,
    "/console/api/start": Console._start,
}


def _static(name: str) -> Reply:
    headers = {"Content-Type": f"{_STATIC[name]}; charset=utf-8", **_SECURITY_HEADERS}
    return 200, static_text(name).encode(), headers


def _named_like(arn: str, function: str | None, name: str) -> bool:
    """Whether an execution is of ``function`` (when given) and its name contains ``name`` (lower case)."""
    fn, ex_name = _names(arn)
    return not ((function and fn != function) or (name and name not in ex_name.lower()))


def _one(params: Mapping[str, list[str]], key: str, *, required: bool = False) -> str | None:
    values = params.get(key)
    if not values or values[0] == "":
        if required:
            raise _BadRequest(f"the {key} parameter is required")
        return None
    return values[0]


def _int(value: str | None, default: int) -> int:
    if value is None:
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise _BadRequest(f"expected an integer, got {value!r}") from exc


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body or b"{}")
    except ValueError as exc:
        raise _BadRequest(f"the request body is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise _BadRequest("the request body must be a JSON object")
    return value
