"""Check one ended import job, and sweep the data store's recent jobs.

:func:`check_job` is the same for an event and for the sweep: skip a job already checked; read the job and, once it
has ended, its manifest (:func:`ahiops.job_history.job_report`); decide whether it needs an alert
(:func:`.alerts.alert_for`); claim it in the table of reported jobs; publish; release the claim if publishing failed
(and raise, so that the invocation is retried). A COMPLETED job whose results cannot be read yet raises too: the
event is retried by Lambda, and the next sweep tries again.

:func:`sweep` lists the data store's jobs (ListDICOMImportJobs) and checks every job that ended within the look-back
window and has not been checked. A job that cannot be checked does not stop the others; the sweep raises at the end,
naming them, so that the function's error alarm fires.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from ahiops.errors import OpsError
from ahiops.job_history import job_report, list_import_jobs
from ahiops.session import translate_client_errors

from .alerts import alert_for, sns_attributes, sns_message
from .config import AlertsConfig
from .reported import ALERTED, NO_ALERT_NEEDED, ReportedJobs

LOG = logging.getLogger("import_alerts")

#: What :func:`check_job` did with a job.
OUTCOME_ALERTED = "alerted"
OUTCOME_NO_ALERT = "no-alert-needed"
OUTCOME_ALREADY_CHECKED = "already-checked"


class JobNotCheckedError(OpsError):
    """A job could not be checked now (still running, or its results unreadable); a retry or the next sweep will."""


class SweepError(OpsError):
    """Some jobs of a sweep could not be checked; the others were."""


@dataclass
class Services:
    """The AWS clients and settings one invocation works with."""

    config: AlertsConfig
    medical_imaging: Any
    s3: Any
    sns: Any
    reported: ReportedJobs


@dataclass
class SweepResult:
    checked: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    listed: int = 0


def check_job(services: Services, job_id: str, *, detected_by: str) -> str:
    """Check one job (see the module docstring); returns one of the ``OUTCOME_*`` values."""
    config = services.config
    if services.reported.seen(job_id):
        LOG.info("job %s was checked before; nothing to do", job_id)
        return OUTCOME_ALREADY_CHECKED
    report = job_report(
        services.medical_imaging,
        services.s3,
        config.datastore_id,
        job_id,
        manifest_attempts=config.manifest_attempts,
        sleep=_sleeper(config.manifest_retry_seconds),
        expected_bucket_owner=config.account_id,
    )
    status = report.status
    if not status.finished:
        raise JobNotCheckedError(f"job {job_id} is {status.job_status}, not ended yet; it is checked again later.")
    if status.job_status == "COMPLETED" and report.output is None:
        raise JobNotCheckedError(f"job {job_id} COMPLETED, but its results could not be read: {report.output_note}")
    alert = alert_for(report, max_failures_listed=config.max_failures_listed, detected_by=detected_by)
    if alert is None:
        services.reported.claim(job_id, outcome=NO_ALERT_NEEDED)
        LOG.info("job %s imported every file; no alert", job_id)
        return OUTCOME_NO_ALERT
    if not services.reported.claim(job_id, outcome=ALERTED, alert_type=alert.kind):
        LOG.info("job %s was claimed by another invocation; it publishes the alert", job_id)
        return OUTCOME_ALREADY_CHECKED
    try:
        with translate_client_errors(f"Publish to {config.topic_arn}"):
            response = services.sns.publish(
                TopicArn=config.topic_arn,
                Subject=alert.subject,
                Message=sns_message(alert),
                MessageStructure="json",
                MessageAttributes=sns_attributes(alert),
            )
    except BaseException:
        services.reported.release(job_id)
        raise
    LOG.info("job %s: published %s (message %s)", job_id, alert.kind, response.get("MessageId"))
    return OUTCOME_ALERTED


def sweep(services: Services, *, now: dt.datetime) -> SweepResult:
    """Check every job of the data store that ended within the look-back window (see the module docstring)."""
    config = services.config
    cutoff = now - dt.timedelta(hours=config.sweep_lookback_hours)
    result = SweepResult()
    jobs = list_import_jobs(services.medical_imaging, config.datastore_id)
    result.listed = len(jobs)
    for job in jobs:
        ended = _instant(job.ended_at or job.submitted_at)
        if not job.finished or ended is None or ended < cutoff:
            continue
        try:
            result.checked[job.job_id] = check_job(services, job.job_id, detected_by="sweep")
        except OpsError as error:
            LOG.error("job %s could not be checked: %s", job.job_id, error)
            result.errors[job.job_id] = str(error)
    if result.errors:
        named = "; ".join(f"{job_id}: {message}" for job_id, message in sorted(result.errors.items()))
        raise SweepError(
            f"{len(result.errors)} of the recent jobs could not be checked (the next sweep tries again): {named}"
        )
    return result


def _instant(text: str | None) -> dt.datetime | None:
    """``2026-01-31T09:15:02Z`` (as :mod:`ahiops.job_history` gives job times) as an aware datetime."""
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _sleeper(seconds: float) -> Any:
    import time

    return lambda _requested: time.sleep(seconds)
