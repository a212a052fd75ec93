"""The function's settings, from its environment variables (set by :class:`components.import_alerts.ImportJobAlerts`).

No secret is ever among them: the topic, table and data store are named, and AWS credentials come from the
function's role.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

#: Environment variable names, shared with the component that sets them.
TOPIC_ARN = "ALERTS_TOPIC_ARN"
TABLE_NAME = "REPORTED_JOBS_TABLE"
DATASTORE_ID = "DATASTORE_ID"
SWEEP_LOOKBACK_HOURS = "SWEEP_LOOKBACK_HOURS"
REPORTED_RETENTION_DAYS = "REPORTED_RETENTION_DAYS"
MAX_FAILURES_LISTED = "MAX_FAILURES_LISTED"
MANIFEST_ATTEMPTS = "MANIFEST_ATTEMPTS"
MANIFEST_RETRY_SECONDS = "MANIFEST_RETRY_SECONDS"

#: Defaults of the optional variables (the component passes its own values explicitly).
DEFAULT_SWEEP_LOOKBACK_HOURS = 24
DEFAULT_REPORTED_RETENTION_DAYS = 30
DEFAULT_MAX_FAILURES_LISTED = 10
DEFAULT_MANIFEST_ATTEMPTS = 5
DEFAULT_MANIFEST_RETRY_SECONDS = 3

_DATASTORE_ID = re.compile(r"[0-9a-z]{32}")


class ConfigurationError(Exception):
    """The function's environment is missing a variable or holds a malformed one (a deployment mistake)."""


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

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> AlertsConfig:
        env = os.environ if environ is None else environ
        missing = [name for name in (TOPIC_ARN, TABLE_NAME, DATASTORE_ID) if not env.get(name)]
        if missing:
            raise ConfigurationError(f"the function's environment lacks {', '.join(missing)}; redeploy the stack.")
        if not _DATASTORE_ID.fullmatch(env[DATASTORE_ID]):
            raise ConfigurationError(f"{DATASTORE_ID} = {env[DATASTORE_ID]!r} is not a data store ID.")
        return cls(
            topic_arn=env[TOPIC_ARN],
            table_name=env[TABLE_NAME],
            datastore_id=env[DATASTORE_ID],
            sweep_lookback_hours=_whole(env, SWEEP_LOOKBACK_HOURS, DEFAULT_SWEEP_LOOKBACK_HOURS, minimum=1),
            reported_retention_days=_whole(env, REPORTED_RETENTION_DAYS, DEFAULT_REPORTED_RETENTION_DAYS, minimum=1),
            max_failures_listed=_whole(env, MAX_FAILURES_LISTED, DEFAULT_MAX_FAILURES_LISTED, minimum=0),
            manifest_attempts=_whole(env, MANIFEST_ATTEMPTS, DEFAULT_MANIFEST_ATTEMPTS, minimum=1),
            manifest_retry_seconds=_whole(env, MANIFEST_RETRY_SECONDS, DEFAULT_MANIFEST_RETRY_SECONDS, minimum=0),
        )


def _whole(env: Mapping[str, str], name: str, default: int, *, minimum: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or int(raw) < minimum:
        raise ConfigurationError(f"{name} = {raw!r} is not a whole number of at least {minimum}.")
    return int(raw)
