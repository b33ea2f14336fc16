"""AWS's emulator, ``dex-local-runner`` (aws-durable-execution-sdk-python-testing 1.4.0), with one race fixed.

``python -m benchmarks.dex_runner start-server ...`` takes the arguments of ``dex-local-runner``.

**The race.** After every checkpoint and every invocation the emulator arms one wake-up per execution,
for its earliest due wait or step retry, and cancels the wake-up armed before it
(``Executor._schedule_earliest_pending``). A wake-up first completes the due operations on the
execution's lane, then invokes the function. When an invocation ends between those two steps, its re-arm
cancels the wake-up mid-flight. The wait is then over (``WaitSucceeded`` is in the history) but the
function is never invoked again, and nothing is left due to wake it: the execution hangs until it times
out. With ``--skip-time`` every wake-up fires at once, so it races the end of the invocation whose
checkpoint armed it. ``tests/interop/test_aws_emulator.py``'s workflow hung in 4 to 6 runs out of 25 on
two cores with six CPU burners (2026-12-03); a probe logged, in every hung run, the wake-up completing the
wait and then being cancelled before it invoked.

**The fix.** Once a wake-up's work has begun it is shielded from that cancellation
(:func:`asyncio.shield`) and runs to the end: it invokes the function, which the emulator's invocation
gate already guards against a second invocation in flight. A cancellation during the wake-up's delay
still stops it, as before. Nothing else in the emulator is changed.
"""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["main", "shield_wakeups"]

WakeUp = Callable[[], Awaitable[None]]


def shield_wakeups(make: Callable[[Any, str], WakeUp]) -> Callable[[Any, str], WakeUp]:
    """Wrap ``Executor._fire_due_and_invoke_handler`` so the wake-ups it builds finish once begun."""

    @functools.wraps(make)
    def fire_due_and_invoke_handler(executor: Any, execution_arn: str) -> WakeUp:
        work = make(executor, execution_arn)

        async def fire_due() -> None:
            await asyncio.shield(work())

        return fire_due

    return fire_due_and_invoke_handler


def main(argv: list[str] | None = None) -> int:
    """Run ``dex-local-runner`` with :func:`shield_wakeups` applied."""
    from aws_durable_execution_sdk_python_testing import cli
    from aws_durable_execution_sdk_python_testing.executor import Executor

    original = getattr(Executor, "_fire_due_and_invoke_handler", None)
    if original is None:  # a release that changed its internals: the race needs a fresh look
        raise SystemExit("benchmarks.dex_runner: Executor._fire_due_and_invoke_handler is gone; see its docstring")
    Executor._fire_due_and_invoke_handler = shield_wakeups(original)  # type: ignore[method-assign,assignment]
    sys.argv = ["dex-local-runner", *(sys.argv[1:] if argv is None else argv)]
    return int(cli.main() or 0)


if __name__ == "__main__":
    sys.exit(main())
