"""The cancellation signal behaves as a threading.Event, its Condition made only when needed."""

from __future__ import annotations

import threading

from replayflow._signal import Signal


def test_it_is_an_event_that_makes_no_condition_until_set_or_waited_on():
    signal = Signal()
    assert isinstance(signal, threading.Event)
    assert not signal.is_set() and signal._made is None  # is_set() alone makes nothing
    assert signal.wait(0) is False and signal._made is not None
    signal.set()
    assert signal.is_set() and signal.wait(0) is True
    signal.clear()
    assert not signal.is_set()


def test_a_waiter_on_another_thread_wakes_when_it_is_set():
    signal, started, woke = Signal(), threading.Event(), []

    def waiter():
        started.set()
        woke.append(signal.wait(10))

    thread = threading.Thread(target=waiter)
    thread.start()
    started.wait()
    signal.set()
    thread.join(10)
    assert woke == [True]


def test_threads_racing_to_make_the_condition_share_one():
    signal, barrier = Signal(), threading.Barrier(8)
    seen = []

    def first_use():
        barrier.wait()
        seen.append(signal._cond)

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(seen) == 8 and all(cond is seen[0] for cond in seen)
