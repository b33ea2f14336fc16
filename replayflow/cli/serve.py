"""``replayflow serve MODULE:WORKFLOW...``: the local durable service over HTTP on 127.0.0.1.

It speaks the Lambda REST API boto3 uses, so ``boto3.client("lambda", endpoint_url=URL)`` can start
executions (``invoke`` with a durable execution name), read histories and send callbacks, and durable
handlers elsewhere can checkpoint against it (``AWS_ENDPOINT_URL_LAMBDA=URL``). Time is real by default
here (external systems answer callbacks in real time); ``--virtual-time`` jumps to the next timer whenever
nothing else is happening.
"""

from __future__ import annotations

import argparse
import sys

from ._common import function_name, load_handler

__all__ = ["add_parser", "run"]

DEFAULT_PORT = 9200


def add_parser(parser: argparse.ArgumentParser) -> None:
    """Declare the command's arguments."""
    parser.add_argument("workflows", nargs="*", metavar="MODULE:WORKFLOW", help="durable handlers to register")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port on 127.0.0.1 (default {DEFAULT_PORT})")
    parser.add_argument("--store", metavar="PATH", help="keep executions in this SQLite file")
    parser.add_argument("--virtual-time", action="store_true", help="jump to the next timer when idle")
    parser.add_argument("--workers", type=int, default=2, help="threads driving executions (default 2)")


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    from replayflow.local import LocalDurableService, LocalHttpServer, RealClock, VirtualClock

    service = LocalDurableService(clock=VirtualClock() if args.virtual_time else RealClock(), store=args.store)
    try:
        for spec in args.workflows:
            try:
                service.register(function_name(spec), load_handler(spec))
            except (ImportError, AttributeError, ValueError, TypeError) as exc:
                print(f"replayflow serve: cannot load {spec}: {exc}", file=sys.stderr)
                return 2
        server = LocalHttpServer(service, port=args.port, workers=args.workers)
        print(f"replayflow: serving the local durable service on {server.url}", flush=True)
        print(f"  console  {server.url}/", flush=True)
        for spec in args.workflows:
            print(f"  function {function_name(spec)}  ({spec})", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("\nstopped", file=sys.stderr)
        finally:
            server.close()
    finally:
        service.close()
    return 0
