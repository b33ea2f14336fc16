"""A Lambda ``Invoke`` endpoint on 127.0.0.1 that hosts durable handlers.

It answers ``POST /2015-03-31/functions/{name}/invocations`` the way the Lambda service does for a
synchronous invoke: the request body is the event, the handler runs with a Lambda context, and the body of
the answer is the handler's JSON output (``X-Amz-Function-Error: Unhandled`` with the error when it raises).
Durable execution services that drive functions through Lambda's Invoke API, such as AWS's own
``dex-local-runner`` emulator, can run replayflow workflows through it; the handlers then checkpoint back
to that service through their transport (e.g. ``AwsTransport(endpoint_url=...)``).
"""

from __future__ import annotations

import traceback
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from replayflow._errors import error_type_name

from . import naming
from ._http import HttpServer, Request, Response, json_error
from .context import LambdaContext

__all__ = ["LambdaInvokeServer"]

_PREFIX = "/2015-03-31/functions/"


class LambdaInvokeServer:
    """Serve ``handlers`` (function name -> handler) on ``http://127.0.0.1:<port>``; ``port=0`` picks one.

    Connections get the guarantees of :mod:`replayflow.local._http`: ``workers`` invocations at a time
    (more wait their turn), bodies over ``max_body_bytes`` (Lambda's 6 MB synchronous limit) answered 413
    unread, a non-JSON payload 400 ``InvalidRequestContentException``, one write per answer.
    """

    def __init__(
        self,
        handlers: Mapping[str, Callable[[Any, Any], Any]],
        *,
        port: int = 0,
        timeout_seconds: float = 900.0,
        workers: int = 32,
        max_body_bytes: int = 6 * 1024 * 1024,
        request_timeout: float = 10.0,
    ) -> None:
        self.handlers = dict(handlers)
        self.timeout_seconds = timeout_seconds
        self.invocations: list[tuple[str, Any]] = []
        self._http = HttpServer(
            ("127.0.0.1", port),
            self._invoke,
            error=json_error,
            name="lambda-invoke",
            blocking_workers=workers,
            is_blocking=lambda request: True,  # every invocation runs a handler
            max_body_bytes=max_body_bytes,
            request_timeout=request_timeout,
        )

    @property
    def url(self) -> str:
        host, port = self._http.address
        return f"http://{host}:{port}"

    @property
    def http(self) -> HttpServer:
        """The HTTP server underneath (connection and thread counts)."""
        return self._http

    def start(self) -> LambdaInvokeServer:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.close()

    def __enter__(self) -> LambdaInvokeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _invoke(self, request: Request) -> Response:
        path = request.path
        if request.method != "POST" or not path.startswith(_PREFIX) or not path.endswith("/invocations"):
            return json_error(404, "ResourceNotFoundException", f"unknown route {request.method} {path[:200]}")
        name = urllib.parse.unquote(path[len(_PREFIX) : -len("/invocations")]).split(":")[0]
        handler = self.handlers.get(name.rsplit(":function:", 1)[-1])
        if handler is None:
            return json_error(404, "ResourceNotFoundException", f"Function not found: {name[:200]}")
        try:
            event = orjson.loads(request.body) if request.body else None
        except orjson.JSONDecodeError:
            return json_error(400, "InvalidRequestContentException", "Could not parse request body into json")
        self.invocations.append((name, event))
        context = LambdaContext(
            aws_request_id=str(uuid.uuid4()),
            function_name=name,
            invoked_function_arn=naming.function_arn(name, naming.DEFAULT_REGION, naming.DEFAULT_ACCOUNT),
            timeout=self.timeout_seconds,
        )
        headers = {
            "Content-Type": "application/json",
            "X-Amz-Executed-Version": "$LATEST",
            "X-Amzn-RequestId": context.aws_request_id,
        }
        try:
            output = handler(event, context)
        except Exception as error:
            trace = traceback.format_exception(error)
            error_body = {"errorMessage": str(error), "errorType": error_type_name(error), "stackTrace": trace}
            return Response(200, orjson.dumps(error_body), {**headers, "X-Amz-Function-Error": "Unhandled"}, name)
        try:
            data = orjson.dumps(output)
        except TypeError as exc:
            error_body = {"errorMessage": f"Unable to marshal response: {exc}", "errorType": "Runtime.MarshalError"}
            return Response(200, orjson.dumps(error_body), {**headers, "X-Amz-Function-Error": "Unhandled"}, name)
        return Response(200, data, headers, name)
