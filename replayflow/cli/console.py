"""``replayflow console --store FILE``: the web console over a SQLite store, without running any workflow.

No function is registered and nothing drives the service, so executions are shown as the store holds them
(callbacks can still be answered and executions stopped; they go on when a ``replayflow serve`` with the
functions opens the store again). The console is served on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._common import serve_until_interrupted

__all__ = ["add_parser", "run"]

DEFAULT_PORT = 9201


def add_parser(parser: argparse.ArgumentParser) -> None:
    """Declare the command's arguments."""
    parser.add_argument("--store", metavar="PATH", required=True, help="the SQLite store to show")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port on 127.0.0.1 (default {DEFAULT_PORT})")


def run(args: argparse.Namespace) -> int:
    """Serve the console until interrupted; 2 when the store does not exist."""
    from replayflow.local import LocalDurableService, LocalHttpServer, RealClock, StoreError

    if not Path(args.store).exists():
        print(f"replayflow console: no store at {args.store}", file=sys.stderr)
        return 2
    try:  # it answers callbacks and stops runs, so it is the store's one writer while it runs
        service = LocalDurableService(clock=RealClock(), store=args.store)
    except StoreError as exc:  # in use by another process, corrupt
        print(f"replayflow console: {exc}", file=sys.stderr)
        return 2
    try:
        server = LocalHttpServer(service, port=args.port, workers=0)
        print(f"replayflow: console for {args.store} on {server.url}/", flush=True)
        serve_until_interrupted(server)
    finally:
        service.close()
    return 0
