"""The function's entry point (``import_alerts.handler.handle``): which event is this, and what to do with it.

- HealthImaging's ``Import Job Completed`` / ``Import Job Failed`` for this stack's data store: check that job.
- EventBridge's ``Scheduled Event`` (the sweep rule): check every recently ended job not checked yet.

Anything else is a deployment mistake and raises, so that it reaches the dead-letter queue and its alarm. The
result (returned, and logged as JSON) says what was done.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping
from typing import Any

import boto3

from ahiops.session import make_client

from .checks import Services, check_job, sweep
from .config import AlertsConfig
from .reported import ReportedJobs

LOG = logging.getLogger("import_alerts")
LOG.setLevel(logging.INFO)

HEALTHIMAGING_SOURCE = "aws.medical-imaging"
JOB_ENDED_DETAIL_TYPES = frozenset({"Import Job Completed", "Import Job Failed"})
SCHEDULE_SOURCE = "aws.events"
SCHEDULE_DETAIL_TYPE = "Scheduled Event"


class UnexpectedEventError(Exception):
    """The function was invoked with an event it was not deployed for."""


def services_from_environment() -> Services:
    """AWS clients from boto3's standard chain (in Lambda: the function's role and region), with retries and timeouts
    (the endpoints come from ``AWS_ENDPOINT_URL_<SERVICE>`` where set)."""
    config = AlertsConfig.from_environment()
    session = boto3.session.Session()

    def client(service: str) -> Any:
        return make_client(session, service, max_pool_connections=4, connect_timeout=5, read_timeout=30)

    return Services(
        config=config,
        medical_imaging=client("medical-imaging"),
        s3=client("s3"),
        sns=client("sns"),
        reported=ReportedJobs(client("dynamodb"), config.table_name, retention_days=config.reported_retention_days),
    )


def handle(event: Mapping[str, Any], context: Any = None, *, services: Services | None = None) -> dict[str, Any]:
    """Lambda's entry point; ``services`` replaces the clients built from the environment (for tests)."""
    services = services or services_from_environment()
    source, detail_type = event.get("source"), event.get("detail-type")
    if source == HEALTHIMAGING_SOURCE and detail_type in JOB_ENDED_DETAIL_TYPES:
        result = _job_event(services, event)
    elif source == SCHEDULE_SOURCE and detail_type == SCHEDULE_DETAIL_TYPE:
        outcome = sweep(services, now=dt.datetime.now(dt.UTC))
        result = {"action": "sweep", "jobsListed": outcome.listed, "checked": outcome.checked}
    else:
        raise UnexpectedEventError(
            f"unexpected event (source {source!r}, detail-type {detail_type!r}): this function handles HealthImaging's "
            "import job events and its schedule only."
        )
    LOG.info(json.dumps(result, sort_keys=True))
    return result


def _job_event(services: Services, event: Mapping[str, Any]) -> dict[str, Any]:
    detail = event.get("detail") or {}
    datastore_id, job_id = detail.get("datastoreId"), detail.get("jobId")
    if datastore_id != services.config.datastore_id:
        # The rule matches this data store's ARN; an event for another one means the rule was changed by hand.
        LOG.warning(
            "ignoring an event of data store %r (this function watches %s)", datastore_id, services.config.datastore_id
        )
        return {"action": "ignored", "reason": f"event of data store {datastore_id!r}"}
    if not isinstance(job_id, str) or not job_id:
        raise UnexpectedEventError(f"the {event.get('detail-type')} event carries no jobId: {json.dumps(detail)}")
    outcome = check_job(services, job_id, detected_by="event")
    return {"action": "job-event", "jobId": job_id, "outcome": outcome}
