"""Pipelined checkpoints on the local service: fewer calls, the same history, every barrier, crash points.

With ``@durable(pipelined=True)`` (or ``ctx.step(..., pipelined=True)``) at-least-once steps start while the
steps before them are being checkpointed in the background. Each barrier is checked from inside user code
by reading the service's own history: what the service has made durable when the code runs.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from typing import Any

import pytest

import replayflow
from replayflow import MockTransport, RetryPresets, StepError, StepSemantics, ValidationError
from replayflow.local import Limits, LocalDurableService, ProcessExit

from .raw import events

N = 120


def durable_steps(svc: LocalDurableService, ended: tuple[str, ...] = ("StepSucceeded",)) -> list[str]:
    """Names of the steps the service recorded as ``ended`` (default: succeeded), in order (what survives a
    crash)."""
    arn = replayflow.step_context().execution_arn
    page = svc.history(arn, max_items=1000)["Events"]
    return [e["Name"] for e in page if e["EventType"] in ended]


def names(n: int) -> list[str]:
    return [f"s{i}" for i in range(n)]


def test_pipelined_steps_share_checkpoints_and_the_history_is_the_same() -> None:
    svc = LocalDurableService(latency=0.005)
    ran: collections.Counter[str] = collections.Counter()

    def work(i: int) -> int:
        ran[f"s{i}"] += 1
        return i

    @replayflow.durable(pipelined=True)
    def wf(_: Any, ctx: Any) -> Any:
        total = 0
        for i in range(N):
            total += yield ctx.step(work, i, name=f"s{i}")
        yield ctx.wait(seconds=30, name="nap")  # a suspension: everything before it is durable
        return total

    svc.register("wf", wf)
    result = svc.run("wf")
    assert result.succeeded and result.value == sum(range(N))
    assert ran == collections.Counter(names(N))  # the replay after the wait ran no body again
    history = events(svc, result.arn)
    assert [e["Name"] for e in history if e["EventType"] == "StepSucceeded"] == names(N)
    assert svc.calls["CheckpointDurableExecution"] < N // 3  # one call per step without pipelining


def test_an_at_most_once_step_starts_only_once_everything_before_it_is_durable() -> None:
    svc = LocalDurableService(latency=0.005)
    seen: list[list[str]] = []

    @replayflow.durable(pipelined=True)
    def wf(_: Any, ctx: Any) -> Any:
        for i in range(N):
            yield ctx.step(lambda i=i: i, name=f"s{i}")
        yield ctx.step(
            lambda: seen.append(durable_steps(svc)), name="once", semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY
        )
        yield ctx.step(lambda: seen.append(durable_steps(svc)), name="sync", pipelined=False)
        return "ok"

    svc.register("wf", wf)
    assert svc.run("wf").value == "ok"
    assert seen == [names(N), [*names(N), "once"]]


@pytest.mark.parametrize("fails", [False, True])
def test_an_at_most_once_step_ends_durably_before_the_next_pipelined_step_starts(fails: bool) -> None:
    """Its outcome, success or failure, must not be lost to a crash in a step after it: the next invocation
    would find it interrupted (its body ran once; whether it did its work would be unknown)."""
    svc = LocalDurableService(latency=0.005)
    seen: list[list[str]] = []

    def once() -> str:
        if fails:
            raise ValueError("declined")
        return "done"

    ended = ("StepSucceeded", "StepFailed")

    @replayflow.durable(pipelined=True)
    def wf(_: Any, ctx: Any) -> Any:
        with contextlib.suppress(StepError):
            yield ctx.step(once, name="once", semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY, retry=RetryPresets.none())
        yield ctx.step(lambda: seen.append(durable_steps(svc, ended)), name="after")  # pipelined
        return "ok"

    svc.register("wf", wf)
    assert svc.run("wf").value == "ok"
    assert seen == [["once"]]


def test_a_callback_id_leaves_the_process_only_after_the_steps_before_it_are_durable() -> None:
    svc = LocalDurableService(latency=0.005)
    seen: list[list[str]] = []

    @replayflow.durable(pipelined=True)
    def wf(_: Any, ctx: Any) -> Any:
        for i in range(N):
            yield ctx.step(lambda i=i: i, name=f"s{i}")
        try:
            yield ctx.wait_for_callback(lambda callback_id: seen.append(durable_steps(svc)), timeout=5, name="cb")
        except replayflow.CallbackError:
            return "timed out"
        return "answered"

    svc.register("wf", wf)
    assert svc.run("wf").value == "timed out"
    assert seen == [names(N)]


def test_the_handler_returns_only_once_everything_is_durable() -> None:
    svc = LocalDurableService(latency=0.005)

    @replayflow.durable(pipelined=True)
    def wf(_: Any, ctx: Any) -> Any:
        total = 0
        for i in range(N):
            total += yield ctx.step(lambda i=i: i, name=f"s{i}")
        return total

    svc.register("wf", wf)
    result = svc.run("wf")
    assert result.value == sum(range(N))
    kinds = [e["EventType"] for e in events(svc, result.arn)]
    assert kinds.count("StepSucceeded") == N and kinds.count("InvocationCompleted") == 1
    assert kinds.index("ExecutionSucceeded") > max(i for i, k in enumerate(kinds) if k == "StepSucceeded")


def test_per_step_pipelining_in_an_execution_that_is_not_pipelined() -> None:
    svc = LocalDurableService(latency=0.005)

    @replayflow.durable
    def wf(_: Any, ctx: Any) -> Any:
        for i in range(N):
            yield ctx.step(lambda i=i: i, name=f"s{i}", pipelined=True)
        return "ok"

    svc.register("wf", wf)
    assert svc.run("wf").value == "ok"
    assert svc.calls["CheckpointDurableExecution"] < N // 3


class Unplugged:
    """The service's transport, with a cable to pull: once :meth:`pull` is called, checkpoints wait; when the
    process dies (:meth:`die`) the requests still waiting never arrive, and the dead invocation sends none
    after them. :meth:`plug` (the next invocation) sends everything through again. The handler's side of it
    is :attr:`transport`, a :class:`replayflow.MockTransport`."""

    def __init__(self, svc: LocalDurableService) -> None:
        self.service = svc.transport()
        self.connected = threading.Event()
        self.connected.set()
        self.dead = False
        self.transport = MockTransport(self._forward)

    def pull(self) -> None:
        self.connected.clear()

    def die(self) -> None:
        self.dead = True
        self.connected.set()

    def plug(self) -> None:
        self.dead = False

    def _forward(self, operation: str, request: Any) -> Any:
        if operation == "GetDurableExecutionState":
            return self.service.get_durable_execution_state(request)
        assert self.connected.wait(timeout=60)  # bounds a hang only
        if self.dead:
            raise ConnectionError("the process died before this request left it")
        return self.service.checkpoint_durable_execution(request)


def test_a_crash_runs_again_only_the_steps_whose_results_were_not_acknowledged() -> None:
    """The process dies in step 80 while the results of steps 70 on have not left it (the cable was pulled
    in step 70): those steps run again, with any earlier ones the service had not acknowledged yet; no
    acknowledged step does. (Without the cable, how many were acknowledged was up to the machine's load.)"""
    svc = LocalDurableService(latency=0.005)
    cable = Unplugged(svc)
    ran: collections.Counter[str] = collections.Counter()
    durable_at_crash: list[str] = []

    def work(i: int) -> int:
        name = f"s{i}"
        ran[name] += 1
        if i == 70 and ran[name] == 1:
            cable.pull()
        if i == 80 and ran[name] == 1:
            durable_at_crash.extend(durable_steps(svc))
            cable.die()
            raise ProcessExit(1)
        return i

    @replayflow.durable(pipelined=True, transport=cable.transport)
    def wf(_: Any, ctx: Any) -> Any:
        cable.plug()  # a new invocation: the dead one is gone
        total = 0
        for i in range(N):
            total += yield ctx.step(work, i, name=f"s{i}")
        return total

    svc.register("wf", wf)
    result = svc.run("wf")
    assert result.succeeded and result.value == sum(range(N))
    history = events(svc, result.arn)
    crash = next(i for i, e in enumerate(history) if e["EventType"] == "InvocationCompleted")
    acknowledged = [e["Name"] for e in history[:crash] if e["EventType"] == "StepSucceeded"]
    assert acknowledged == names(len(acknowledged)) and len(acknowledged) <= 70  # a prefix was durable
    assert acknowledged[: len(durable_at_crash)] == durable_at_crash  # what the crashing body saw, or less
    again = sorted((name for name, count in ran.items() if count == 2), key=lambda name: int(name[1:]))
    assert again == [f"s{i}" for i in range(len(acknowledged), 81)]  # exactly the unacknowledged ones, and s80
    assert all(count <= 2 for count in ran.values())
    assert [e["Name"] for e in history if e["EventType"] == "StepSucceeded"] == names(N)  # each recorded once
    assert "Runtime.ExitError" in str(history)


def test_a_crash_after_a_barrier_runs_nothing_before_it_again() -> None:
    svc = LocalDurableService(latency=0.005)
    ran: collections.Counter[str] = collections.Counter()
    crashed: list[bool] = []

    def once() -> str:
        if not crashed:
            crashed.append(True)
            raise ProcessExit(1)
        return "second attempt"

    @replayflow.durable(pipelined=True)
    def wf(_: Any, ctx: Any) -> Any:
        for i in range(N):
            yield ctx.step(lambda i=i: ran.update([f"s{i}"]), name=f"s{i}")
        return (yield ctx.step(once, name="once", semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY))

    svc.register("wf", wf)
    result = svc.run("wf")
    assert ran == collections.Counter(names(N))  # all durable before the at-most-once body: none ran again
    assert result.value == "second attempt"  # the interrupted attempt is handed to the retry strategy


def test_pipelining_an_at_most_once_step_is_refused() -> None:
    svc = LocalDurableService()

    @replayflow.durable
    def wf(_: Any, ctx: Any) -> Any:
        try:
            yield ctx.step(lambda: 1, semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY, pipelined=True)
        except ValidationError as error:
            return str(error)
        return "accepted"

    svc.register("wf", wf)
    assert "at-most-once step cannot be pipelined" in svc.run("wf").value


def test_a_background_checkpoint_the_service_rejects_ends_the_invocation_at_the_next_step() -> None:
    """The service refuses a pipelined batch: the error surfaces at the next checkpoint, nothing is lost
    silently, and only the steps already running in the pipeline ran."""
    svc = LocalDurableService(latency=0.005, limits=Limits(operation_payload_bytes=100))
    ran: list[int] = []

    def work(i: int) -> str:
        ran.append(i)
        time.sleep(0.02)  # steps overlap the requests in flight (all 120 would take 2.4 s)
        return "x" * 200 if i == 3 else str(i)  # the service refuses payloads over 100 bytes

    @replayflow.durable(pipelined=True)
    def wf(_: Any, ctx: Any) -> Any:
        for i in range(N):
            yield ctx.step(work, i, name=f"s{i}")
        return "done"

    svc.register("wf", wf)
    result = svc.run("wf")
    assert result.status == "FAILED"
    assert "InvalidParameterValueException" in str(result.error) and "100 bytes" in str(result.error)
    assert ran == list(range(len(ran))) and len(ran) < N  # it stopped soon after the refused batch
    recorded = [e["Name"] for e in events(svc, result.arn) if e["EventType"] == "StepSucceeded"]
    assert recorded == names(len(recorded)) and len(recorded) <= 3  # nothing from the refused batch on
