"""components.deferred: an output resolved later in the program never leaves the run waiting forever."""

from __future__ import annotations

import threading
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from pulumi.runtime.sync_await import _sync_await

from components.deferred import DeferredOutputError, deferred
from testkit.mock_runs import run_component

#: A hang shows as a run still going after this long; a finished run takes well under a second.
HANG_BOUND_SECONDS = 60


def run_bounded(build: Any) -> BaseException | None:
    """Run ``build`` under mocks in a thread; the error it raised (None if none). Fails the test if it hangs."""
    outcome: list[BaseException | None] = []

    def target() -> None:
        try:
            run_component(build)
            outcome.append(None)
        except BaseException as error:
            outcome.append(error)

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(HANG_BOUND_SECONDS)
    assert not worker.is_alive(), "the run still waits on the deferred output"
    return outcome[0]


def test_a_program_that_stops_before_resolving_ends_with_its_own_error() -> None:
    created: list[str] = []

    def build() -> None:
        with deferred(str, "the test's value") as later:
            aws.s3.BucketObjectv2("waits", bucket="b", key="k", content=later.output)
            created.append("declared")
            raise ValueError("ImagingDatastore 'datastore': refused")

    error = run_bounded(build)
    assert isinstance(error, ValueError)
    assert "refused" in str(error)
    assert created == ["declared"]


def test_an_unresolved_output_fails_the_run_naming_it_and_the_error_that_stopped_it() -> None:
    def build() -> None:
        try:
            with deferred(str, "the test's value") as later:
                raise ValueError("bad argument")
        except ValueError:
            pass  # a program that carries on: the runtime reports the output that failed
        aws.s3.BucketObjectv2("waits", bucket="b", key="k", content=later.output)

    error = run_bounded(build)
    assert isinstance(error, DeferredOutputError)
    assert str(error) == (
        "the test's value was never known: the program stopped before it was known (ValueError: bad argument)"
    )


def test_a_block_that_forgets_to_resolve_is_an_error() -> None:
    def build() -> None:
        with deferred(str, "the test's value"):
            pass

    error = run_bounded(build)
    assert isinstance(error, DeferredOutputError)
    assert str(error) == "the test's value was never resolved: resolve it inside the with block that defers it."


def test_a_resolved_output_carries_the_value_and_cannot_be_resolved_twice() -> None:
    seen: list[str] = []

    def build() -> None:
        with deferred(str, "the test's value") as later:
            later.resolve(pulumi.Output.from_input("known"))
            with pytest.raises(DeferredOutputError, match="already resolved"):
                later.resolve(pulumi.Output.from_input("again"))
        seen.append(str(_sync_await(later.output.future())))

    assert run_bounded(build) is None
    assert seen == ["known"]
