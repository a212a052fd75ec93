"""Every function that reads or writes the stack's buckets needs the account that owns them: no default, so that no
caller can forget ``ExpectedBucketOwner`` (S3 then refuses a bucket of the same name in another account)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

from ahiops import job_history, manifest, upload
from healthimaging_functions.import_alerts.config import AlertsConfig, ConfigurationError


@pytest.mark.parametrize(
    "function",
    [
        manifest.find_job_folder,
        manifest.read_job_output,
        upload.upload_files,
        upload.existing_objects,
        job_history.job_report,
    ],
    ids=lambda function: function.__name__,
)
def test_the_expected_bucket_owner_is_a_required_keyword(function: Callable[..., Any]) -> None:
    parameter = inspect.signature(function).parameters["expected_bucket_owner"]
    assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
    assert parameter.default is inspect.Parameter.empty


def test_the_alert_function_knows_the_account_from_its_topic() -> None:
    environment = {
        "ALERTS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:ahi-import-alerts",
        "REPORTED_JOBS_TABLE": "reported",
        "DATASTORE_ID": "0123456789abcdef0123456789abcdef",
    }
    assert AlertsConfig.from_environment(environment).account_id == "123456789012"
    with pytest.raises(ConfigurationError, match="ALERTS_TOPIC_ARN"):
        AlertsConfig.from_environment({**environment, "ALERTS_TOPIC_ARN": "not-an-arn"})
