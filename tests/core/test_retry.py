"""Retry strategies (``replayflow/_retry.py``): backoff, jitter, presets, validation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from replayflow import Jitter, RetryPolicy, RetryPresets, ValidationError


@given(attempt=st.integers(1, 40))
def test_full_jitter_delays_stay_within_the_capped_backoff(attempt):
    policy = RetryPresets.default()
    cap = min(5 * 2 ** (attempt - 1), 60)
    delay = policy.delay(attempt)
    assert 1 <= delay <= cap
    assert isinstance(delay, int)


@given(attempt=st.integers(1, 30))
def test_half_jitter_delays_stay_in_the_upper_half(attempt):
    policy = RetryPolicy(max_attempts=50, initial_delay=4, max_delay=100, backoff_rate=2, jitter=Jitter.HALF)
    cap = min(4 * 2 ** (attempt - 1), 100)
    assert max(1, cap // 2) <= policy.delay(attempt) <= cap


def test_no_jitter_backoff_is_exact_and_rounded_up():
    policy = RetryPolicy(max_attempts=9, initial_delay=2, max_delay=30, backoff_rate=3, jitter=Jitter.NONE)
    assert [policy(ValueError(), n) for n in range(1, 5)] == [2, 6, 18, 30]
    assert RetryPolicy(initial_delay=0.2, max_delay=1, jitter=Jitter.NONE).delay(1) == 1


def test_presets_match_the_official_sdk():
    d = RetryPresets.default()
    assert (d.max_attempts, d.initial_delay, d.max_delay, d.backoff_rate, d.jitter) == (6, 5, 60, 2, Jitter.FULL)
    t = RetryPresets.transient()
    assert (t.max_attempts, t.jitter) == (3, Jitter.HALF)
    assert RetryPresets.none()(ValueError(), 1) is None
    assert [RetryPresets.linear(max_attempts=5, initial_delay=2, increment=3)(ValueError(), n) for n in (1, 2, 3)] == [
        2,
        5,
        8,
    ]
    assert RetryPresets.fixed(4, max_attempts=3)(ValueError(), 2) == 4
    assert RetryPresets.fixed(4, max_attempts=3)(ValueError(), 3) is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"initial_delay": 0},
        {"initial_delay": 10, "max_delay": 5},
        {"backoff_rate": 0.5},
        {"increment": -1},
        {"max_attempts": 2.5},
    ],
)
def test_invalid_retry_policies_are_rejected(kwargs):
    with pytest.raises(ValidationError):
        RetryPolicy(**kwargs)
