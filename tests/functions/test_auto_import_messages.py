"""The automatic importer's function, pure parts: its settings from the environment, what a queue message asks for,
the message that puts a waiting batch back, and how long it waits."""

from __future__ import annotations

import datetime as dt
import json
import random
from typing import Any

import pytest

from ahiops.auto_import_steps import STAGE_QUIET, STAGE_READY, STAGE_STARTED, Step
from healthimaging_functions.auto_import import config, handler, messages
from healthimaging_functions.auto_import.config import AutoImportConfig, ConfigurationError

DATASTORE = "0123456789abcdef0123456789abcdef"
ENV = {
    config.INPUT_BUCKET: "in",
    config.OUTPUT_BUCKET: "out",
    config.ACCOUNT_ID: "111122223333",
    config.DATASTORE_ID: DATASTORE,
    config.IMPORT_ROLE_ARN: "arn:aws:iam::111122223333:role/r",
    config.QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/111122223333/q",
}


def s3_event(key: str, **detail_object: Any) -> str:
    return json.dumps(
        {
            "version": "0",
            "detail-type": "Object Created",
            "source": "aws.s3",
            "time": "2026-11-25T12:00:00Z",
            "detail": {"bucket": {"name": "in"}, "object": {"key": key, "size": 0, **detail_object}},
        }
    )


# ---------------------------------------------------------------- settings


def test_settings_from_the_environment_with_defaults() -> None:
    settings = AutoImportConfig.from_environment(ENV)
    assert settings.marker_name == "_READY"
    assert settings.alert_topic_arn is None
    assert settings.quiet_period_seconds == 0
    assert settings.max_files_per_job == 5000
    assert settings.max_delay_seconds == 900
    assert settings.start_interval_seconds == 2.0


def test_a_missing_or_malformed_variable_is_a_deployment_error() -> None:
    with pytest.raises(ConfigurationError, match="lacks QUEUE_URL"):
        AutoImportConfig.from_environment({k: v for k, v in ENV.items() if k != config.QUEUE_URL})
    with pytest.raises(ConfigurationError, match="is not a data store ID"):
        AutoImportConfig.from_environment({**ENV, config.DATASTORE_ID: "x"})
    with pytest.raises(ConfigurationError, match="MAX_FILES_PER_JOB = '0'"):
        AutoImportConfig.from_environment({**ENV, config.MAX_FILES_PER_JOB: "0"})
    with pytest.raises(ConfigurationError, match="START_INTERVAL_SECONDS"):
        AutoImportConfig.from_environment({**ENV, config.START_INTERVAL_SECONDS: "fast"})
    assert AutoImportConfig.from_environment({**ENV, config.MAX_DELAY_SECONDS: "5000"}).max_delay_seconds == 900


def test_batches_whose_jobs_run_are_followed_on_their_own_queue() -> None:
    follow_url = "https://sqs.us-east-1.amazonaws.com/111122223333/q-follow"
    two = AutoImportConfig.from_environment({**ENV, config.FOLLOW_QUEUE_URL: follow_url})
    one = AutoImportConfig.from_environment(ENV)
    assert handler.queue_for(two, {"stage": STAGE_STARTED}) == follow_url
    assert handler.queue_for(two, {"stage": STAGE_READY}) == ENV[config.QUEUE_URL]
    assert handler.queue_for(two, {"stage": STAGE_QUIET}) == ENV[config.QUEUE_URL]
    assert handler.queue_for(one, {"stage": STAGE_STARTED}) == ENV[config.QUEUE_URL]


# ---------------------------------------------------------------- messages


def test_a_marker_event_starts_its_batch_and_names_the_marker_write() -> None:
    work = messages.parse_body(
        s3_event("incoming/a/b/_READY", **{"version-id": "v1", "sequencer": "00ab"}),
        marker_name="_READY",
        quiet_period=False,
    )
    assert work == messages.Work(
        messages.KIND_MARKER,
        "in",
        batch_prefix="incoming/a/b/",
        key="incoming/a/b/_READY",
        event_time=dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC),
        marker_id="v1",
    )
    unversioned = messages.parse_body(
        s3_event("incoming/a/_READY", **{"version-id": "null", "sequencer": "00ab"}),
        marker_name="_READY",
        quiet_period=False,
    )
    assert isinstance(unversioned, messages.Work)
    assert unversioned.marker_id == "00ab"


def test_other_objects_start_nothing_unless_a_quiet_period_is_set() -> None:
    body = s3_event("incoming/a/study/ct.dcm")
    assert isinstance(messages.parse_body(body, marker_name="_READY", quiet_period=False), messages.Ignored)
    work = messages.parse_body(body, marker_name="_READY", quiet_period=True)
    assert isinstance(work, messages.Work)
    assert (work.kind, work.batch_prefix, work.key) == (
        messages.KIND_NEW_OBJECT,
        "incoming/a/",
        "incoming/a/study/ct.dcm",
    )


@pytest.mark.parametrize(
    "key", ["incoming/a/_JOBS.json", "incoming/a/_RESULT.json", "incoming/x.dcm", "other/a/_READY"]
)
def test_the_importers_files_and_objects_outside_batches_are_ignored(key: str) -> None:
    assert isinstance(messages.parse_body(s3_event(key), marker_name="_READY", quiet_period=True), messages.Ignored)


@pytest.mark.parametrize(
    "body",
    ["not json", "[1]", '{"source": "aws.ec2"}', '{"autoImport": 2, "stage": "ready"}', '{"autoImport": 1}'],
)
def test_anything_else_is_malformed(body: str) -> None:
    with pytest.raises(messages.MalformedMessageError):
        messages.parse_body(body, marker_name="_READY", quiet_period=False)


def test_a_waiting_batch_comes_back_as_the_functions_own_message() -> None:
    work = messages.Work(messages.KIND_MARKER, "in", batch_prefix="incoming/a/", key="incoming/a/_READY")
    step = Step("incoming/a/", done=False, outcome="started", wait="jobs", stage=STAGE_STARTED, digest="d" * 32)
    message = messages.waiting_message(work, step)
    assert message == {
        "autoImport": 1,
        "stage": STAGE_STARTED,
        "bucket": "in",
        "batch": "incoming/a/",
        "digest": "d" * 32,
        "attempt": 1,
        "waitingFor": "jobs",
    }
    again = messages.parse_body(json.dumps(message), marker_name="_READY", quiet_period=False)
    assert again == messages.Work(
        messages.KIND_RESUME,
        "in",
        batch_prefix="incoming/a/",
        stage=STAGE_STARTED,
        digest="d" * 32,
        attempt=1,
        waiting_for="jobs",
    )


def test_a_quiet_wait_keeps_the_object_and_its_time() -> None:
    when = dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)
    work = messages.Work(
        messages.KIND_NEW_OBJECT, "in", batch_prefix="incoming/a/", key="incoming/a/x.dcm", event_time=when
    )
    step = Step("incoming/a/", done=False, outcome="quiet", wait="quiet", stage=STAGE_QUIET, delay_seconds=12.5)
    again = messages.parse_body(
        json.dumps(messages.waiting_message(work, step)), marker_name="_READY", quiet_period=True
    )
    assert isinstance(again, messages.Work)
    assert (again.stage, again.key, again.event_time, again.attempt) == (STAGE_QUIET, "incoming/a/x.dcm", when, 1)


def test_delays_grow_are_capped_and_follow_the_quiet_period() -> None:
    def delay(wait: str, attempt: int, seconds: float | None = None) -> int:
        step = Step("incoming/a/", done=False, outcome="", wait=wait, stage=STAGE_READY, delay_seconds=seconds)
        return messages.delay_seconds(
            step, attempt, poll_initial=60, retry_initial=30, maximum=900, retry_maximum=120, jitter=0
        )

    assert [delay("jobs", n) for n in range(4)] == [60, 90, 135, 203]
    assert [delay("quota", n) for n in range(7)] == [120, 90, 68, 51, 38, 30, 30]  # the longest waiting most often
    assert [delay("throttled", n) for n in range(3)] == [30, 45, 68]
    assert delay("throttled", 20) == 120  # a place in the quota is looked for at least every two minutes
    assert delay("jobs", 20) == 900  # a job's polls slow down to SQS's longest delay
    assert delay("quiet", 5, 12.2) == 13
    assert delay("quiet", 0, 5000) == 900
    assert delay("busy", 9) == messages.BUSY_DELAY_SECONDS
    step = Step("incoming/a/", done=False, outcome="", wait="jobs", stage=STAGE_STARTED)
    spread = {
        messages.delay_seconds(step, 0, poll_initial=100, retry_initial=1, maximum=900, rng=random.Random(seed))
        for seed in range(20)
    }
    assert min(spread) >= 100
    assert max(spread) <= 110
    assert len(spread) > 1
