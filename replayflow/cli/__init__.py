"""The ``replayflow`` command line: one module per command, each with ``add_parser`` and ``run``.

Command modules keep their imports light at module level (the heavy ones happen inside ``run``), so
``replayflow --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["main"]

#: command name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {}


def register(name: str, module: str, help_text: str) -> None:
    COMMANDS[name] = (module, help_text)


register("run", "replayflow.cli.run", "run a workflow to completion on the local durable service")
register("history", "replayflow.cli.history", "show an execution's event history")
register("list", "replayflow.cli.list_executions", "list the executions kept in a store")
register("serve", "replayflow.cli.serve", "serve the local durable service over HTTP on 127.0.0.1")
register("callback", "replayflow.cli.callback", "complete, fail or heartbeat a callback on a served instance")
register("replay", "replayflow.cli.replay", "replay a recorded history against the current code")
register("lambda", "replayflow.cli.lambda_endpoint", "host handlers behind a Lambda Invoke endpoint")
register("console", "replayflow.cli.console", "open the web console on a SQLite store, running nothing")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``replayflow`` command."""
    parser = argparse.ArgumentParser(prog="replayflow", description="Durable workflows for AWS Lambda.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    available = {}
    for name, (module, help_text) in COMMANDS.items():
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        mod.add_parser(sub.add_parser(name, help=help_text, description=help_text))
        available[name] = mod
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        result: int = available[args.command].run(args)
    except BrokenPipeError:  # e.g. `replayflow history ... | head`
        sys.stderr.close()
        return 0
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
