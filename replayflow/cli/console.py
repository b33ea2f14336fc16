"""``replayflow console --store FILE``: the web console over a SQLite store, without running any workflow.

No function is registered and nothing drives the service, so executions are shown as the store holds them
(callbacks can still be answered and executions stopped; they go on when a ``replayflow serve`` with the
functions opens the store again). The console is served on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["add_parser", "run"]

DEFAULT_PORT = 9201


def add_parser(parser: argparse.ArgumentParser) -> None:
    """Declare the command's arguments."""
    parser.add_argument("--store", metavar="PATH", required=True, help="the SQLite store to show")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port on 127.0.0.1 (default {DEFAULT_PORT})")


def run(args: argparse.Namespace) -> int:
    """Serve the console until interrupted; 2 when the store does not exist."""
    from replayflow.local import LocalDurableService, LocalHttpServer, RealClock

    if not Path(args.store).exists():
        print(f"replayflow console: no store at {args.store}", file=sys.stderr)
        return 2
    service = LocalDurableService(clock=RealClock(), store=args.store)
    try:
        server = LocalHttpServer(service, port=args.port, workers=0)
        print(f"replayflow: console for {args.store} on {server.url}/", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("\nstopped", file=sys.stderr)
        finally:
            server.close()
    finally:
        service.close()
    return 0
