"""``replayflow serve MODULE:WORKFLOW...``: the local durable service over HTTP on 127.0.0.1.

It speaks the Lambda REST API boto3 uses, so ``boto3.client("lambda", endpoint_url=URL)`` can start
executions (``invoke`` with a durable execution name), read histories and send callbacks, and durable
handlers elsewhere can checkpoint against it (``AWS_ENDPOINT_URL_LAMBDA=URL``). Time is real by default
here (external systems answer callbacks in real time); ``--virtual-time`` jumps to the next timer whenever
nothing else is happening.

``MODULE:HANDLER`` may be a replayflow workflow (a ``@durable`` handler or a plain generator function) or
a handler decorated with the official SDK's ``@durable_execution``; the latter runs in worker processes
(as on Lambda) and checkpoints through its own boto3 client over this server's HTTP face, as against AWS.
Every answered request is logged on stderr as one line (time, method, API, status, milliseconds) unless ``--quiet``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from ._common import function_name, import_workflow, load_handler, serve_until_interrupted

__all__ = ["add_parser", "run"]

DEFAULT_PORT = 9200


def add_parser(parser: argparse.ArgumentParser) -> None:
    """Declare the command's arguments."""
    parser.add_argument("workflows", nargs="*", metavar="MODULE:WORKFLOW", help="durable handlers to register")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port on 127.0.0.1 (default {DEFAULT_PORT})")
    parser.add_argument("--store", metavar="PATH", help="keep executions in this SQLite file")
    parser.add_argument("--virtual-time", action="store_true", help="jump to the next timer when idle")
    parser.add_argument("--workers", type=int, default=2, help="threads driving executions (default 2)")
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run official-SDK handlers in this process (default: in worker processes, as on Lambda)",
    )


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    from replayflow.local import LocalDurableService, LocalHttpServer, RealClock, StoreError, VirtualClock

    try:
        service = LocalDurableService(clock=VirtualClock() if args.virtual_time else RealClock(), store=args.store)
    except StoreError as exc:  # in use by another process, corrupt, bad path
        print(f"replayflow serve: {exc}", file=sys.stderr)
        return 2
    try:
        server = LocalHttpServer(
            service, port=args.port, workers=args.workers, log=None if args.quiet else _log_request
        )
        kinds: dict[str, str] = {}
        for spec in args.workflows:
            try:
                kinds[spec] = _register(service, spec, server.url, in_process=args.in_process)
            except (ImportError, AttributeError, ValueError, TypeError) as exc:
                print(f"replayflow serve: cannot load {spec}: {exc}", file=sys.stderr)
                server.close()
                return 2
        print(f"replayflow: serving the local durable service on {server.url}", flush=True)
        print(f"  console  {server.url}/", flush=True)
        for spec, kind in kinds.items():
            print(f"  function {function_name(spec)}  ({spec}, {kind})", flush=True)
        serve_until_interrupted(server)
    finally:
        service.close()
    return 0


def _register(service: Any, spec: str, url: str, *, in_process: bool) -> str:
    """Register the handler at ``spec``; which SDK it is written with.

    An official-SDK handler runs in worker processes, as on Lambda, and checkpoints through its own boto3
    client, pointed at this server by ``AWS_ENDPOINT_URL_LAMBDA``; ``in_process``: in this process, with
    the SDK's own ``LambdaClient`` over a boto3 client on ``url``.
    """
    from replayflow.local import OfficialSdkInvoker, SubprocessInvoker, is_official_handler

    obj = import_workflow(spec)
    if is_official_handler(obj) and in_process:
        service.register(function_name(spec), obj, invoker=OfficialSdkInvoker(endpoint_url=url))
        return "official SDK, in this process"
    if is_official_handler(obj):
        env = {"AWS_ENDPOINT_URL_LAMBDA": url}
        for key, value in _LOCAL_CREDENTIALS.items():
            if key not in os.environ:
                env[key] = value
        service.register(function_name(spec), spec, invoker=SubprocessInvoker(env=env))
        return "official SDK, in worker processes"
    service.register(function_name(spec), load_handler(spec))
    return "replayflow"


#: what the official SDK's boto3 client signs with when the environment has no credentials (not checked)
_LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": "us-east-1"}


def _log_request(line: str) -> None:
    now = time.time()
    stamp = time.strftime("%H:%M:%S", time.localtime(now)) + f".{int(now * 1000) % 1000:03d}"
    print(f"{stamp} {line}", file=sys.stderr, flush=True)
