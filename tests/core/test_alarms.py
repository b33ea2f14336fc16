"""The shared alarm thread: actions fire after their delay unless cancelled; cancelled ones do not pile up."""

from __future__ import annotations

import threading

from replayflow._alarms import Alarms


def test_an_alarm_fires_after_its_delay_and_a_cancelled_one_never_does():
    alarms = Alarms()
    fired = threading.Event()
    skipped = threading.Event()
    with alarms._condition:  # the alarm thread waits for this (re-entrant) lock: the cancel is in time
        cancel = alarms.schedule(0.05, skipped.set)  # however long this thread is kept off the CPU
        alarms.schedule(0.1, fired.set)
        cancel()
    assert fired.wait(30)  # bounds a hang only
    assert not skipped.is_set()  # it was due first, and cancelled


def test_an_earlier_alarm_wakes_the_thread():
    alarms = Alarms()
    late = threading.Event()
    early = threading.Event()
    alarms.schedule(3600, late.set)
    alarms.schedule(0.01, early.set)
    assert early.wait(30)  # bounds a hang only
    assert not late.is_set()


def test_cancelled_far_alarms_are_compacted_away():
    alarms = Alarms()
    cancels = [alarms.schedule(3600, lambda: None) for _ in range(1000)]
    for cancel in cancels:
        cancel()
    assert len(alarms._heap) < 100


def test_a_failing_action_does_not_stop_the_thread(caplog):
    alarms = Alarms()
    after = threading.Event()

    def boom() -> None:
        raise RuntimeError("boom")

    alarms.schedule(0.01, boom)
    alarms.schedule(0.05, after.set)
    assert after.wait(30)  # bounds a hang only
    assert "a background action failed" in caplog.text


def test_a_cancelled_alarm_lets_go_of_its_action_at_once():
    # a deadline's alarm, 15 minutes away, stays in the heap until it is compacted: its action (a bound
    # method of an invocation's interpreter) must not keep the interpreter alive meanwhile
    import weakref

    class Invocation:
        def begin_shutdown(self) -> None:
            raise AssertionError("a cancelled alarm fired")

    alarms = Alarms()
    alarms.schedule(600, lambda: None)  # due first: the thread waits for it, the cancelled one stays under it
    invocation = Invocation()
    gone = weakref.ref(invocation)
    cancel = alarms.schedule(900, invocation.begin_shutdown)
    del invocation
    assert gone() is not None  # scheduled: the alarm holds it
    cancel()
    assert gone() is None and len(alarms._heap) == 2  # still in the heap, holding nothing
