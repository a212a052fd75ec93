"""The function's settings, from its environment variables (set by :class:`components.auto_import.AutoImport`).

No secret is ever among them: buckets, data store, role, queue and topic are named, and AWS credentials come from the
function's role.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

# ConfigurationError is what reading the settings raises: callers catch it from here.
from ahiops.function_environment import ConfigurationError as ConfigurationError
from ahiops.function_environment import datastore_id, require, whole_number

#: Environment variable names, shared with the component that sets them.
INPUT_BUCKET: Final = "INPUT_BUCKET"
OUTPUT_BUCKET: Final = "OUTPUT_BUCKET"
ACCOUNT_ID: Final = "BUCKET_OWNER_ACCOUNT_ID"
DATASTORE_ID: Final = "DATASTORE_ID"
IMPORT_ROLE_ARN: Final = "IMPORT_ROLE_ARN"
QUEUE_URL: Final = "QUEUE_URL"
FOLLOW_QUEUE_URL: Final = "FOLLOW_QUEUE_URL"
ALERT_TOPIC_ARN: Final = "ALERT_TOPIC_ARN"
MARKER_NAME: Final = "MARKER_NAME"
QUIET_PERIOD_SECONDS: Final = "QUIET_PERIOD_SECONDS"
MAX_FILES_PER_JOB: Final = "MAX_FILES_PER_JOB"
MAX_OBJECTS_PER_BATCH: Final = "MAX_OBJECTS_PER_BATCH"
MAX_CONCURRENT_JOBS: Final = "MAX_CONCURRENT_JOBS"
START_INTERVAL_SECONDS: Final = "START_INTERVAL_SECONDS"
POLL_INITIAL_SECONDS: Final = "POLL_INITIAL_SECONDS"
RETRY_INITIAL_SECONDS: Final = "RETRY_INITIAL_SECONDS"
MAX_DELAY_SECONDS: Final = "MAX_DELAY_SECONDS"
START_RETRY_SECONDS: Final = "START_RETRY_SECONDS"
RETRY_MAX_SECONDS: Final = "RETRY_MAX_SECONDS"
QUOTA_RECHECK_SECONDS: Final = "QUOTA_RECHECK_SECONDS"
QUOTA_WAIT_SECONDS: Final = "QUOTA_WAIT_SECONDS"
FAILURE_RETRY_SECONDS: Final = "FAILURE_RETRY_SECONDS"
MAX_RECEIVE_COUNT: Final = "MAX_RECEIVE_COUNT"

REQUIRED: Final = (INPUT_BUCKET, OUTPUT_BUCKET, ACCOUNT_ID, DATASTORE_ID, IMPORT_ROLE_ARN, QUEUE_URL)

#: Defaults of the optional variables (the component passes its own values explicitly).
DEFAULT_MARKER_NAME: Final = "_READY"
DEFAULT_MAX_FILES_PER_JOB: Final = 5_000
DEFAULT_MAX_OBJECTS_PER_BATCH: Final = 20_000
DEFAULT_MAX_CONCURRENT_JOBS: Final = 100
#: Seconds between two starts of one running copy of the function (the component sets concurrency x 1 s, so that
#: all copies together stay within StartDICOMImportJob's rate of one per second).
DEFAULT_START_INTERVAL_SECONDS: Final = 2.0
DEFAULT_POLL_INITIAL_SECONDS: Final = 60
DEFAULT_RETRY_INITIAL_SECONDS: Final = 30
#: The longest wait of a batch for a place in the job quota (or for throttling to end) before it looks again.
DEFAULT_RETRY_MAX_SECONDS: Final = 120
#: While the job quota is full, an invocation counts the running jobs again this often (ListDICOMImportJobs).
DEFAULT_QUOTA_RECHECK_SECONDS: Final = 15
#: The longest an invocation waits for a place in the quota before it puts its batches back (besides its deadline,
#: two minutes before its timeout). Running jobs are followed on another queue, so waiting holds up no result; the
#: batches not handed out yet wait in the queue untouched, in about the order they came.
DEFAULT_QUOTA_WAIT_SECONDS: Final = 900
#: How long one start is retried within an invocation while throttled, before the batch is put back to wait.
DEFAULT_START_RETRY_SECONDS: Final = 10
#: A failed message becomes visible again after this many seconds per receive so far.
DEFAULT_FAILURE_RETRY_SECONDS: Final = 60
#: The queue's receive limit before the dead-letter queue (the component sets the queue's own value).
DEFAULT_MAX_RECEIVE_COUNT: Final = 5
#: SQS delays a message by at most 15 minutes.
MAX_SQS_DELAY_SECONDS: Final = 900

_ACCOUNT = re.compile(r"[0-9]{12}")


@dataclass(frozen=True)
class AutoImportConfig:
    input_bucket: str
    output_bucket: str
    account_id: str
    datastore_id: str
    import_role_arn: str
    queue_url: str
    #: The queue of batches whose jobs run (their polls); None: ``queue_url``.
    follow_queue_url: str | None = None
    alert_topic_arn: str | None = None
    marker_name: str = DEFAULT_MARKER_NAME
    quiet_period_seconds: int = 0
    max_files_per_job: int = DEFAULT_MAX_FILES_PER_JOB
    max_objects_per_batch: int = DEFAULT_MAX_OBJECTS_PER_BATCH
    max_concurrent_jobs: int = DEFAULT_MAX_CONCURRENT_JOBS
    start_interval_seconds: float = DEFAULT_START_INTERVAL_SECONDS
    poll_initial_seconds: int = DEFAULT_POLL_INITIAL_SECONDS
    retry_initial_seconds: int = DEFAULT_RETRY_INITIAL_SECONDS
    max_delay_seconds: int = MAX_SQS_DELAY_SECONDS
    start_retry_seconds: int = DEFAULT_START_RETRY_SECONDS
    retry_max_seconds: int = DEFAULT_RETRY_MAX_SECONDS
    quota_recheck_seconds: int = DEFAULT_QUOTA_RECHECK_SECONDS
    quota_wait_seconds: int = DEFAULT_QUOTA_WAIT_SECONDS
    failure_retry_seconds: int = DEFAULT_FAILURE_RETRY_SECONDS
    max_receive_count: int = DEFAULT_MAX_RECEIVE_COUNT

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> AutoImportConfig:
        env = os.environ if environ is None else environ
        require(env, REQUIRED)
        datastore_id(env, DATASTORE_ID)
        if not _ACCOUNT.fullmatch(env[ACCOUNT_ID]):
            raise ConfigurationError(f"{ACCOUNT_ID} = {env[ACCOUNT_ID]!r} is not a 12-digit account ID.")
        interval = env.get(START_INTERVAL_SECONDS) or str(DEFAULT_START_INTERVAL_SECONDS)
        try:
            start_interval = float(interval)
        except ValueError:
            start_interval = -1.0
        if not 0 < start_interval <= 3600:
            raise ConfigurationError(f"{START_INTERVAL_SECONDS} = {interval!r} is not a number of seconds (0 to 3600).")
        return cls(
            input_bucket=env[INPUT_BUCKET],
            output_bucket=env[OUTPUT_BUCKET],
            account_id=env[ACCOUNT_ID],
            datastore_id=env[DATASTORE_ID],
            import_role_arn=env[IMPORT_ROLE_ARN],
            queue_url=env[QUEUE_URL],
            follow_queue_url=env.get(FOLLOW_QUEUE_URL) or None,
            alert_topic_arn=env.get(ALERT_TOPIC_ARN) or None,
            marker_name=env.get(MARKER_NAME) or DEFAULT_MARKER_NAME,
            quiet_period_seconds=whole_number(env, QUIET_PERIOD_SECONDS, 0, minimum=0),
            max_files_per_job=whole_number(env, MAX_FILES_PER_JOB, DEFAULT_MAX_FILES_PER_JOB, minimum=1),
            max_objects_per_batch=whole_number(env, MAX_OBJECTS_PER_BATCH, DEFAULT_MAX_OBJECTS_PER_BATCH, minimum=1),
            max_concurrent_jobs=whole_number(env, MAX_CONCURRENT_JOBS, DEFAULT_MAX_CONCURRENT_JOBS, minimum=1),
            start_interval_seconds=start_interval,
            poll_initial_seconds=whole_number(env, POLL_INITIAL_SECONDS, DEFAULT_POLL_INITIAL_SECONDS, minimum=0),
            retry_initial_seconds=whole_number(env, RETRY_INITIAL_SECONDS, DEFAULT_RETRY_INITIAL_SECONDS, minimum=0),
            max_delay_seconds=min(
                whole_number(env, MAX_DELAY_SECONDS, MAX_SQS_DELAY_SECONDS, minimum=0), MAX_SQS_DELAY_SECONDS
            ),
            start_retry_seconds=whole_number(env, START_RETRY_SECONDS, DEFAULT_START_RETRY_SECONDS, minimum=0),
            retry_max_seconds=whole_number(env, RETRY_MAX_SECONDS, DEFAULT_RETRY_MAX_SECONDS, minimum=0),
            quota_recheck_seconds=whole_number(env, QUOTA_RECHECK_SECONDS, DEFAULT_QUOTA_RECHECK_SECONDS, minimum=1),
            quota_wait_seconds=whole_number(env, QUOTA_WAIT_SECONDS, DEFAULT_QUOTA_WAIT_SECONDS, minimum=0),
            failure_retry_seconds=whole_number(env, FAILURE_RETRY_SECONDS, DEFAULT_FAILURE_RETRY_SECONDS, minimum=0),
            max_receive_count=whole_number(env, MAX_RECEIVE_COUNT, DEFAULT_MAX_RECEIVE_COUNT, minimum=1),
        )
