"""The jobs already checked, in a DynamoDB table (partition key ``jobId``), so that each job is reported once.

A job is *claimed* with a conditional write (``attribute_not_exists(jobId)``): of two invocations that check the same
job at the same time (a repeated event, or an event and the sweep) exactly one wins and publishes. When publishing
fails, the claim is released so that the retry publishes. Items expire through the table's TTL attribute
(``expiresAt``, seconds since the epoch) after the retention, which is longer than the sweep looks back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import botocore.exceptions

from ahiops.session import error_code, translate_client_errors

KEY = "jobId"
TTL_ATTRIBUTE = "expiresAt"
#: Outcomes recorded for a job.
ALERTED = "alerted"
NO_ALERT_NEEDED = "no-alert-needed"


class ReportedJobs:
    def __init__(
        self,
        dynamodb: Any,
        table_name: str,
        *,
        retention_days: int,
        now: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self._dynamodb = dynamodb
        self._table = table_name
        self._retention = dt.timedelta(days=retention_days)
        self._now = now or (lambda: dt.datetime.now(dt.UTC))

    def seen(self, job_id: str) -> bool:
        """Whether the job has been checked (and alerted on, if it needed an alert) already."""
        with translate_client_errors(f"GetItem {job_id} from {self._table}"):
            item = self._dynamodb.get_item(
                TableName=self._table, Key={KEY: {"S": job_id}}, ConsistentRead=True, ProjectionExpression=KEY
            )
        return "Item" in item

    def claim(self, job_id: str, *, outcome: str, alert_type: str | None = None) -> bool:
        """Record the job as checked; False when another invocation recorded it first (then do nothing more)."""
        now = self._now()
        item: dict[str, Any] = {
            KEY: {"S": job_id},
            "outcome": {"S": outcome},
            "checkedAt": {"S": now.strftime("%Y-%m-%dT%H:%M:%SZ")},
            TTL_ATTRIBUTE: {"N": str(int((now + self._retention).timestamp()))},
        }
        if alert_type:
            item["alertType"] = {"S": alert_type}
        with translate_client_errors(f"PutItem {job_id} into {self._table}"):
            try:
                self._dynamodb.put_item(
                    TableName=self._table, Item=item, ConditionExpression=f"attribute_not_exists({KEY})"
                )
            except botocore.exceptions.ClientError as error:
                if error_code(error) == "ConditionalCheckFailedException":
                    return False
                raise
        return True

    def release(self, job_id: str) -> None:
        """Forget a claim whose alert could not be published, so that a retry publishes it."""
        with translate_client_errors(f"DeleteItem {job_id} from {self._table}"):
            self._dynamodb.delete_item(TableName=self._table, Key={KEY: {"S": job_id}})
