"""AutoImport under mocks: the input bucket's EventBridge switch, the rule and its pattern, the queues and their key,
the function's settings and environment, the role's exact documents (simulated with the project's IAM checks), and
the stack setting that composes it."""

from __future__ import annotations

from typing import Any

from helpers import DEV_ACCOUNT, DEV_REGION, run_component

from ahictl.mockrun import ProgramRun
from components import ImagingBucketPair, ImagingBucketPairArgs

NOTIFICATION = "aws:s3/bucketNotification:BucketNotification"


def pair(**overrides: Any) -> ProgramRun:
    args: ImagingBucketPairArgs = {"account_id": DEV_ACCOUNT, "region": DEV_REGION, "name_prefix": "ahi-test"}
    args.update(overrides)  # type: ignore[typeddict-item]
    return run_component(lambda: ImagingBucketPair("buckets", args) and None)


def test_the_input_bucket_sends_its_events_to_eventbridge_only_when_asked() -> None:
    assert pair().by_type(NOTIFICATION) == []
    run = pair(input_eventbridge_notifications=True)
    (notification,) = run.by_type(NOTIFICATION)
    assert notification.name == "buckets-input-notifications"
    assert notification.inputs["eventbridge"] is True
    assert set(notification.inputs) == {"bucket", "eventbridge"}  # no other destination fights over the bucket
    assert notification.inputs["bucket"] == run.one("aws:s3/bucket:Bucket", "buckets-input").id
    assert notification.retain_on_delete
