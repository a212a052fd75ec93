"""A failed run under mocks (ahictl/mockrun.py) raises its first failure once; the registrations that failed with it
are not reported again later, whenever the garbage collector reaches them."""

from __future__ import annotations

import asyncio
import gc
import logging

import pulumi
import pulumi_aws as aws
import pytest

from testkit.mock_runs import run_component


def _refuse(_: str) -> str:
    raise ValueError("the name is refused")


def _buckets_named_by_a_failing_output() -> None:
    name = pulumi.Output.from_input("ahi").apply(_refuse)
    first = aws.s3.Bucket("first", bucket=name)
    for index in range(5):
        aws.s3.Bucket(f"after-{index}", bucket=first.bucket.apply(lambda value, i=index: f"{value}-{i}"))


def test_the_first_failure_is_raised_and_the_others_are_not_reported_later(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(Exception, match="the name is refused"):
        run_component(_buckets_named_by_a_failing_output)
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        run_component(lambda: None)  # the next run lets go of the failed run's registrations
        gc.collect()
    assert [r.getMessage() for r in caplog.records if "never retrieved" in r.getMessage()] == []


def test_other_errors_of_the_event_loop_still_reach_asyncios_handler(caplog: pytest.LogCaptureFixture) -> None:
    run_component(lambda: None)
    loop = asyncio.get_event_loop()
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        loop.call_exception_handler({"message": "a callback failed"})
    assert any("a callback failed" in r.getMessage() for r in caplog.records)
