"""The worker process of :class:`SubprocessInvoker`: runs handlers, checkpoints over its pipes.

Started as ``python -m replayflow.local.worker``. It reads one JSON message per line on stdin and writes
one per line on the protocol channel (the process's original stdout; the handler's own ``print`` output is
sent to stderr). Messages:

* service -> worker ``{"op": "invoke", "handler": "module:attr", "event": ..., "context": {...}}``
* worker -> service ``{"op": "call", "method": "checkpoint_durable_execution" | "get_durable_execution_state",
  "request": {...}}``, answered by ``{"op": "reply", "response": ...}`` or
  ``{"op": "error", "code": ..., "message": ..., "status": ...}``
* worker -> service ``{"op": "done", "output": ...}`` or ``{"op": "raised", "error": {ErrorObject}}``

If the process exits mid-invocation, the service sees the pipe close and reports ``Runtime.ExitError``.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import IO, Any

import orjson

from replayflow._errors import ServiceError
from replayflow._transport import use_transport
from replayflow._wire import CheckpointRequest, CheckpointResponse, GetStateRequest, GetStateResponse
from replayflow.local.context import LambdaContext
from replayflow.local.invokers import handler_error, marshal
from replayflow.local.records import import_handler

__all__ = ["PipeTransport", "main"]


class PipeTransport:
    """A :class:`replayflow.Transport` that asks the service over the worker's pipes."""

    def __init__(self, reader: IO[bytes], writer: IO[bytes]) -> None:
        self._reader = reader
        self._writer = writer
        self._lock = threading.Lock()

    def _call(self, method: str, request: Any) -> Any:
        with self._lock:
            self._writer.write(orjson.dumps({"op": "call", "method": method, "request": request}) + b"\n")
            self._writer.flush()
            line = self._reader.readline()
        if not line:
            raise ServiceError("ServiceException", "the local durable service went away", status=None)
        message = orjson.loads(line)
        if message["op"] == "error":
            raise ServiceError(message["code"], message["message"], status=message.get("status"))
        return message["response"]

    def checkpoint_durable_execution(self, request: CheckpointRequest) -> CheckpointResponse:
        response: CheckpointResponse = self._call("checkpoint_durable_execution", request)
        return response

    def get_durable_execution_state(self, request: GetStateRequest) -> GetStateResponse:
        response: GetStateResponse = self._call("get_durable_execution_state", request)
        return response


def main() -> None:
    """Serve invocations until stdin closes."""
    channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # the handler's prints go to stderr, not into the protocol
    sys.stdout = sys.stderr
    reader = sys.stdin.buffer
    transport = PipeTransport(reader, channel)
    handlers: dict[str, Any] = {}
    while True:
        line = reader.readline()
        if not line:
            return
        message = orjson.loads(line)
        spec = message["handler"]
        try:
            handler = handlers.get(spec) or handlers.setdefault(spec, import_handler(spec))
            context = LambdaContext.from_dict(message["context"])
            with use_transport(transport):
                output = handler(message["event"], context)
            reply = {"op": "done", "output": marshal(output)}
        except Exception as exc:
            reply = {"op": "raised", "error": handler_error(exc)}
        channel.write(orjson.dumps(reply) + b"\n")
        channel.flush()


if __name__ == "__main__":
    main()
