"""SecureBucket on its own, under mocks: the arguments it reads with their defaults."""

from __future__ import annotations

from typing import Any

import pytest

from ahictl.mockrun import ProgramRun
from components.secure_bucket import SECURE_BUCKET_DEFAULTS, SecureBucket, SecureBucketArgs
from testkit.mock_runs import DEV_ACCOUNT, run_component


def bucket(**overrides: Any) -> ProgramRun:
    args: SecureBucketArgs = {"account_id": DEV_ACCOUNT, "bucket_prefix": "ahi-test-"}
    args.update(overrides)  # type: ignore[typeddict-item]
    return run_component(lambda: SecureBucket("bucket", args) and None)


def lifecycle_rule_ids(run: ProgramRun) -> list[str]:
    return [rule["id"] for rule in run.named("bucket-lifecycle").inputs["rules"]]


def test_an_unset_current_version_expiration_takes_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(SECURE_BUCKET_DEFAULTS, "current_version_expiration_days", 400)
    rules = bucket().named("bucket-lifecycle").inputs["rules"]
    assert rules[2] == {
        "id": "expire-current-versions",
        "status": "Enabled",
        "filter": {"prefix": ""},
        "expiration": {"days": 400},
    }


@pytest.mark.parametrize("days", [None, 0])
def test_current_versions_never_expire_with_none_or_zero(days: int | None) -> None:
    assert lifecycle_rule_ids(bucket(current_version_expiration_days=days)) == [
        "abort-incomplete-multipart-uploads",
        "expire-noncurrent-versions",
    ]


def test_a_whole_float_expiration_becomes_whole_days() -> None:
    rules = bucket(current_version_expiration_days=30.0).named("bucket-lifecycle").inputs["rules"]
    assert rules[2]["expiration"] == {"days": 30}
