"""A Lambda ``Invoke`` endpoint on 127.0.0.1 that hosts durable handlers.

It answers ``POST /2015-03-31/functions/{name}/invocations`` the way the Lambda service does for a
synchronous invoke: the request body is the event, the handler runs with a Lambda context, and the body of
the answer is the handler's JSON output (``X-Amz-Function-Error: Unhandled`` with the error when it raises).
Durable execution services that drive functions through Lambda's Invoke API, such as AWS's own
``dex-local-runner`` emulator, can run replayflow workflows through it; the handlers then checkpoint back
to that service through their transport (e.g. ``AwsTransport(endpoint_url=...)``).
"""

from __future__ import annotations

import threading
import traceback
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from replayflow._errors import error_type_name

from . import naming
from .context import LambdaContext

__all__ = ["LambdaInvokeServer"]

_PREFIX = "/2015-03-31/functions/"


class LambdaInvokeServer:
    """Serve ``handlers`` (function name -> handler) on ``http://127.0.0.1:<port>``; ``port=0`` picks one."""

    def __init__(
        self,
        handlers: Mapping[str, Callable[[Any, Any], Any]],
        *,
        port: int = 0,
        timeout_seconds: float = 900.0,
    ) -> None:
        self.handlers = dict(handlers)
        self.timeout_seconds = timeout_seconds
        self.invocations: list[tuple[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                server._invoke(self)

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> LambdaInvokeServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="lambda-invoke", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> LambdaInvokeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _invoke(self, request: BaseHTTPRequestHandler) -> None:
        path = urllib.parse.urlsplit(request.path).path
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        if not path.startswith(_PREFIX) or not path.endswith("/invocations"):
            self._reply(
                request,
                404,
                {"Type": "User", "message": f"unknown route {path}"},
                {"x-amzn-ErrorType": "ResourceNotFoundException"},
            )
            return
        name = urllib.parse.unquote(path[len(_PREFIX) : -len("/invocations")]).split(":")[0]
        handler = self.handlers.get(name.rsplit(":function:", 1)[-1])
        if handler is None:
            self._reply(
                request,
                404,
                {"Type": "User", "message": f"Function not found: {name}"},
                {"x-amzn-ErrorType": "ResourceNotFoundException"},
            )
            return
        try:
            event = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            self._reply(
                request,
                400,
                {"Type": "User", "message": "the payload is not JSON"},
                {"x-amzn-ErrorType": "InvalidRequestContentException"},
            )
            return
        self.invocations.append((name, event))
        context = LambdaContext(
            aws_request_id=str(uuid.uuid4()),
            function_name=name,
            invoked_function_arn=naming.function_arn(name, naming.DEFAULT_REGION, naming.DEFAULT_ACCOUNT),
            timeout=self.timeout_seconds,
        )
        headers = {"X-Amz-Executed-Version": "$LATEST", "X-Amzn-RequestId": context.aws_request_id}
        try:
            output = handler(event, context)
        except Exception as error:
            trace = traceback.format_exception(error)
            error_body = {"errorMessage": str(error), "errorType": error_type_name(error), "stackTrace": trace}
            self._reply(request, 200, error_body, {**headers, "X-Amz-Function-Error": "Unhandled"})
            return
        self._reply(request, 200, output, headers)

    @staticmethod
    def _reply(request: BaseHTTPRequestHandler, status: int, body: Any, headers: Mapping[str, str]) -> None:
        data = orjson.dumps(body)
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            request.send_header(key, value)
        request.end_headers()
        request.wfile.write(data)
