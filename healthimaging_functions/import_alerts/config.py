"""The function's settings, from its environment variables (set by :class:`components.import_alerts.ImportJobAlerts`).

No secret is ever among them: the topic, table and data store are named, and AWS credentials come from the
function's role.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

# ConfigurationError is what reading the settings raises: callers catch it from here.
from ahiops.function_environment import ConfigurationError as ConfigurationError
from ahiops.function_environment import datastore_id, require, whole_number

#: Environment variable names, shared with the component that sets them.
TOPIC_ARN = "ALERTS_TOPIC_ARN"
TABLE_NAME = "REPORTED_JOBS_TABLE"
DATASTORE_ID = "DATASTORE_ID"
SWEEP_LOOKBACK_HOURS = "SWEEP_LOOKBACK_HOURS"
REPORTED_RETENTION_DAYS = "REPORTED_RETENTION_DAYS"
MAX_FAILURES_LISTED = "MAX_FAILURES_LISTED"
MANIFEST_ATTEMPTS = "MANIFEST_ATTEMPTS"
MANIFEST_RETRY_SECONDS = "MANIFEST_RETRY_SECONDS"

#: An SNS topic ARN, whose fifth field is the stack's account.
_TOPIC_ARN = re.compile(r"arn:[a-z-]+:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]{1,256}")

#: Defaults of the optional variables (the component passes its own values explicitly).
DEFAULT_SWEEP_LOOKBACK_HOURS = 24
DEFAULT_REPORTED_RETENTION_DAYS = 30
DEFAULT_MAX_FAILURES_LISTED = 10
DEFAULT_MANIFEST_ATTEMPTS = 5
DEFAULT_MANIFEST_RETRY_SECONDS = 3


@dataclass(frozen=True)
class AlertsConfig:
    topic_arn: str
    table_name: str
    datastore_id: str
    sweep_lookback_hours: int = DEFAULT_SWEEP_LOOKBACK_HOURS
    reported_retention_days: int = DEFAULT_REPORTED_RETENTION_DAYS
    max_failures_listed: int = DEFAULT_MAX_FAILURES_LISTED
    manifest_attempts: int = DEFAULT_MANIFEST_ATTEMPTS
    #: Seconds between reads of a manifest that has not appeared yet (it may appear shortly after COMPLETED).
    manifest_retry_seconds: int = DEFAULT_MANIFEST_RETRY_SECONDS

    @property
    def account_id(self) -> str:
        """The stack's account (the owner of the buckets the jobs' results are in): the alert topic's, which the
        stack creates in it."""
        return self.topic_arn.split(":")[4]

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> AlertsConfig:
        env = os.environ if environ is None else environ
        require(env, (TOPIC_ARN, TABLE_NAME, DATASTORE_ID))
        datastore_id(env, DATASTORE_ID)
        if not _TOPIC_ARN.fullmatch(env[TOPIC_ARN]):
            raise ConfigurationError(
                f"{TOPIC_ARN} = {env[TOPIC_ARN]!r} is not an SNS topic ARN (arn:<partition>:sns:<region>:<12-digit "
                "account>:<name>); it names the topic and the account whose buckets hold the jobs' results."
            )
        return cls(
            topic_arn=env[TOPIC_ARN],
            table_name=env[TABLE_NAME],
            datastore_id=env[DATASTORE_ID],
            sweep_lookback_hours=whole_number(env, SWEEP_LOOKBACK_HOURS, DEFAULT_SWEEP_LOOKBACK_HOURS, minimum=1),
            reported_retention_days=whole_number(
                env, REPORTED_RETENTION_DAYS, DEFAULT_REPORTED_RETENTION_DAYS, minimum=1
            ),
            max_failures_listed=whole_number(env, MAX_FAILURES_LISTED, DEFAULT_MAX_FAILURES_LISTED, minimum=0),
            manifest_attempts=whole_number(env, MANIFEST_ATTEMPTS, DEFAULT_MANIFEST_ATTEMPTS, minimum=1),
            manifest_retry_seconds=whole_number(env, MANIFEST_RETRY_SECONDS, DEFAULT_MANIFEST_RETRY_SECONDS, minimum=0),
        )
