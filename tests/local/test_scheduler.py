"""Who runs the work (``scheduler.Driver``): background drivers, outside threads, one invocation at a time."""

from __future__ import annotations

import threading
import time
from typing import Any

import replayflow
from replayflow.local import LocalDurableService, VirtualClock


@replayflow.durable
def approval(input: Any, ctx: Any) -> Any:
    """``workflows.approval`` without the callback's timeout: after the wait the virtual clock has nothing to
    jump to, so the callback waits for its answer however long this thread is kept off the CPU."""
    callback = yield ctx.create_callback(name="approve")
    yield ctx.wait(seconds=10)  # the clock jumps over this once the drivers are idle for 0.3 s
    return (yield callback.result())


def test_background_drivers_and_a_callback_from_another_thread() -> None:
    svc = LocalDurableService(clock=VirtualClock(autojump_threshold=0.3))
    svc.register("approval", approval)
    svc.start(workers=2)
    try:
        arn = svc.start_execution("approval", "{}")
        deadline = time.monotonic() + 30  # bounds a hang only
        callback_id = None
        while callback_id is None and time.monotonic() < deadline:
            events = svc.get_durable_execution_history(DurableExecutionArn=arn)["Events"]
            callback_id = next(
                (e["CallbackStartedDetails"]["CallbackId"] for e in events if e["EventType"] == "CallbackStarted"), None
            )
            time.sleep(0.01)
        assert callback_id is not None

        def answer() -> None:
            svc.send_durable_execution_callback_success(CallbackId=callback_id, Result=b'"from a thread"')

        threading.Thread(target=answer).start()
        result = svc.wait(arn, timeout=60)
        assert result.value == '"from a thread"'
        assert svc.driving
    finally:
        svc.close()
    assert not svc.driving


def test_at_most_one_invocation_at_a_time() -> None:
    svc = LocalDurableService()
    running = {"now": 0, "max": 0}
    lock = threading.Lock()

    @replayflow.durable
    def wf(input: Any, ctx: Any) -> Any:
        with lock:
            running["now"] += 1
            running["max"] = max(running["max"], running["now"])
        time.sleep(0.005)
        with lock:
            running["now"] -= 1
        for _ in range(3):
            yield ctx.wait(seconds=1)
        return "ok"

    svc.register("wf", wf)
    svc.start(workers=4)
    try:
        arn = svc.start_execution("wf", "{}")
        assert svc.wait(arn, timeout=60).value == "ok"
    finally:
        svc.close()
    assert running["max"] == 1


def test_a_virtual_clock_jumps_to_the_next_timer_but_not_past_the_horizon() -> None:
    from replayflow.local.scheduler import _jump_target

    assert _jump_target(0.0, 5.0, None) == 5.0
    assert _jump_target(0.0, 2.0, 3.0) == 2.0
    assert _jump_target(0.0, 5.0, 3.0) == 3.0
    assert _jump_target(0.0, None, 3.0) == 3.0
    assert _jump_target(3.0, 5.0, 3.0) is None  # at the horizon already: nowhere to go
    assert _jump_target(0.0, None, None) is None
