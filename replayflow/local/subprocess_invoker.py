"""An invoker that runs handlers in separate worker processes, like Lambda's runtime processes.

Each worker (``python -m replayflow.local.worker``) imports the handler by ``"module:attribute"`` and
talks back to the service over its pipes (see :mod:`replayflow.local.worker`). A worker serves one
invocation at a time and is reused; if it exits mid-invocation, the invocation ends with
``Runtime.ExitError`` (``"... exit status N"``) and the next invocation gets a fresh worker. A handler that
runs past the function timeout is killed (``Sandbox.Timedout``).
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import IO, Any

import orjson

from replayflow._errors import ServiceError
from replayflow._transport import Transport

from .context import LambdaContext
from .invokers import InvocationOutcome, exit_error
from .records import Function

__all__ = ["SubprocessInvoker"]


class _Worker:
    def __init__(self, python: str, env: dict[str, str], cwd: str | None, output: Callable[[str], None] | None) -> None:
        self.process = subprocess.Popen(
            [python, "-m", "replayflow.local.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if output is not None else None,
            env=env,
            cwd=cwd,
        )
        if output is not None:
            assert self.process.stderr is not None
            threading.Thread(target=_forward, args=(self.process.stderr, output), daemon=True).start()
        assert self.process.stdin is not None and self.process.stdout is not None
        self.stdin: IO[bytes] = self.process.stdin
        self.messages: queue.Queue[bytes | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stdout: IO[bytes]) -> None:
        for line in iter(stdout.readline, b""):
            self.messages.put(line)
        self.messages.put(None)

    def send(self, message: Any) -> None:
        self.stdin.write(orjson.dumps(message) + b"\n")
        self.stdin.flush()

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> int:
        if self.process.poll() is None:
            self.process.kill()
        return self.process.wait()

    def exit_status(self) -> int:
        """The status of a process that closed its pipe (killed if it does not exit within 5 s)."""
        try:
            return self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return self.kill()

    def close(self) -> None:
        try:
            self.stdin.close()
            self.process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.kill()


def _forward(stream: IO[bytes], output: Callable[[str], None]) -> None:
    for line in iter(stream.readline, b""):
        output(line.decode(errors="replace").rstrip("\n"))


class SubprocessInvoker:
    """Runs each invocation in a worker process (``python`` defaults to the current interpreter).

    The handler must be importable in the worker: register it as ``"module:attribute"`` or as a
    module-level function. ``env`` adds environment variables; the worker's ``PYTHONPATH`` is this
    process's ``sys.path``. ``output``, when given, receives every line a worker writes to stdout or
    stderr (what Lambda ships to CloudWatch Logs); otherwise it goes to this process's stderr.
    """

    def __init__(
        self,
        *,
        python: str | None = None,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        output: Callable[[str], None] | None = None,
    ):
        self.python = python or sys.executable
        self.output = output
        self.cwd = cwd
        self.env = dict(os.environ)
        self.env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        self.env.update(env or {})
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        #: Worker processes started so far.
        self.started = 0

    def _take(self) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    return worker
            self.started += 1
        return _Worker(self.python, self.env, self.cwd, self.output)

    def invoke(self, function: Function, event: Any, context: LambdaContext, transport: Transport) -> InvocationOutcome:
        spec = function.spec
        if spec is None:
            return InvocationOutcome(
                error={
                    "ErrorType": "Runtime.ImportModuleError",
                    "ErrorMessage": f"the handler of {function.name} is not importable as 'module:attribute'",
                }
            )
        worker = self._take()
        try:
            worker.send({"op": "invoke", "handler": spec, "event": event, "context": context.to_dict()})
        except OSError:
            return InvocationOutcome(error=exit_error(context.aws_request_id, worker.exit_status()))
        timeout = context.timeout
        while True:
            try:
                line = worker.messages.get(timeout=max(context.get_remaining_time_in_millis() / 1000, 0.001))
            except queue.Empty:
                worker.kill()
                return InvocationOutcome(
                    error={
                        "ErrorType": "Sandbox.Timedout",
                        "ErrorMessage": f"RequestId: {context.aws_request_id} Error: Task timed out after "
                        f"{timeout:.2f} seconds",
                    }
                )
            if line is None:  # the process exited mid-invocation
                return InvocationOutcome(error=exit_error(context.aws_request_id, worker.exit_status()))
            message = orjson.loads(line)
            op = message["op"]
            if op == "call":
                reply = self._serve(transport, message["method"], message["request"])
                try:
                    worker.send(reply)
                except OSError:
                    return InvocationOutcome(error=exit_error(context.aws_request_id, worker.exit_status()))
                continue
            with self._lock:
                self._idle.append(worker)
            if op == "done":
                return InvocationOutcome(output=message["output"])
            return InvocationOutcome(error=message["error"])

    @staticmethod
    def _serve(transport: Transport, method: str, request: Any) -> dict[str, Any]:
        try:
            if method == "checkpoint_durable_execution":
                return {"op": "reply", "response": transport.checkpoint_durable_execution(request)}
            if method == "get_durable_execution_state":
                return {"op": "reply", "response": transport.get_durable_execution_state(request)}
            return {"op": "error", "code": "InvalidAction", "message": f"unknown method {method}", "status": 400}
        except ServiceError as exc:
            return {"op": "error", "code": exc.code, "message": exc.message, "status": exc.status}

    def close(self) -> None:
        with self._lock:
            workers, self._idle = self._idle, []
        for worker in workers:
            worker.close()
