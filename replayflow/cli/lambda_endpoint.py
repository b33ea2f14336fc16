"""``replayflow lambda MODULE:WORKFLOW... --service URL``: host handlers behind a Lambda Invoke endpoint.

For durable execution services that run functions through Lambda's Invoke API, such as AWS's own emulator
(``dex-local-runner start-server --lambda-endpoint http://127.0.0.1:PORT``): each function answers
``POST /2015-03-31/functions/NAME/invocations`` and checkpoints back to ``--service`` over HTTP with boto3.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from ._common import function_name, load_handler

__all__ = ["add_parser", "run"]


def add_parser(parser: argparse.ArgumentParser) -> None:
    """Declare the command's arguments."""
    parser.add_argument("workflows", nargs="+", metavar="MODULE:WORKFLOW", help="durable handlers to host")
    parser.add_argument("--port", type=int, default=3001, help="port on 127.0.0.1 (default 3001)")
    parser.add_argument("--service", required=True, metavar="URL", help="the durable execution service's endpoint")
    parser.add_argument("--region", default="us-west-2", help="the region to sign requests for")


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    from replayflow import AwsTransport, DurableHandler
    from replayflow.local import LambdaInvokeServer

    transport = AwsTransport(endpoint_url=args.service, region_name=args.region)
    handlers: dict[str, DurableHandler[Any]] = {}
    for spec in args.workflows:
        try:
            handler = load_handler(spec)
        except (ImportError, AttributeError, ValueError, TypeError) as exc:
            print(f"replayflow lambda: cannot load {spec}: {exc}", file=sys.stderr)
            return 2
        handlers[function_name(spec)] = DurableHandler(handler.workflow, handler.options, transport=transport)
    with LambdaInvokeServer(handlers, port=args.port) as server:
        print(f"replayflow: Lambda Invoke endpoint on {server.url}, checkpointing to {args.service}", flush=True)
        for name in handlers:
            print(f"  function {name}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("\nstopped", file=sys.stderr)
    return 0
