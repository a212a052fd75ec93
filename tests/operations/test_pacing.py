"""Pacing StartDICOMImportJob to the service's rate (1/s, burst 2) and the backoff used while waiting."""

from __future__ import annotations

import pytest

from ahiops import limits
from ahiops.pacing import Backoff, FakeClock, TokenBucket


def test_burst_then_one_per_second() -> None:
    clock = FakeClock()
    bucket = TokenBucket(limits.START_JOB_RATE_PER_SECOND, limits.START_JOB_BURST, clock)
    started = []
    for _ in range(5):
        bucket.acquire()
        started.append(clock.monotonic())
    assert started == pytest.approx([0.0, 0.0, 1.0, 2.0, 3.0])
    # never more than `burst` within any one-second window, never more than rate*t + burst in t seconds
    for index in range(len(started)):
        in_window = [t for t in started if started[index] <= t < started[index] + 1.0]
        assert len(in_window) <= 2


def test_tokens_refill_after_a_quiet_spell_up_to_the_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(1.0, 2, clock)
    for _ in range(2):
        bucket.acquire()
    clock.now += 10.0
    assert bucket.acquire() == 0.0
    assert bucket.acquire() == 0.0
    assert bucket.acquire() == pytest.approx(1.0)


def test_bad_rates_are_refused() -> None:
    with pytest.raises(ValueError, match="rate"):
        TokenBucket(0, 1, FakeClock())


def test_backoff_grows_to_its_cap_and_resets() -> None:
    backoff = Backoff(initial=1, factor=2, maximum=5)
    assert [backoff.next_delay() for _ in range(5)] == [1, 2, 4, 5, 5]
    backoff.reset()
    assert backoff.next_delay() == 1
