"""The function's entry point (``auto_import.handler.handle``): one SQS batch of messages at a time.

For each message: work out what it asks for (:mod:`.messages`), run the importer's step for its batch
(:class:`ahiops.auto_import_steps.BatchImporter`), and then

- done: nothing more (Lambda deletes the message);
- waiting: send the batch's next message with a delay, then let Lambda delete this one; if that send fails, report
  this message as a batch item failure, so that SQS hands it out again;
- failed (an AWS error, a malformed message, a bug): report a batch item failure and make the message visible again
  after a growing delay; after the queue's receive limit SQS moves it to the dead-letter queue.

Messages not reached before the invocation runs short of time are put back the same way. Every message's outcome is
logged as one JSON line.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import boto3

from ahiops.auto_import_steps import (
    STAGE_STARTED,
    BatchImporter,
    ImporterOptions,
    ImportTarget,
    JobSlots,
    Services,
    Step,
    utc_now,
)
from ahiops.batches import BatchRules
from ahiops.errors import OpsError
from ahiops.pacing import Clock, SystemClock, TokenBucket
from ahiops.planning import JobLimits
from ahiops.session import make_client

from . import messages
from .config import AutoImportConfig, ConfigurationError

LOG = logging.getLogger("auto_import")
LOG.setLevel(logging.INFO)

#: Milliseconds an invocation keeps in hand: messages not started before the remaining time falls below this are put
#: back (one batch's checks, copies and starts take well under this).
TIME_RESERVE_MS: Final = 120_000
#: SQS's longest visibility timeout.
MAX_VISIBILITY_SECONDS: Final = 12 * 3600


@dataclass
class Runtime:
    """What the function keeps between invocations of one execution environment."""

    config: AutoImportConfig
    services: Services
    sqs: Any
    pacer: TokenBucket
    clock: Clock = field(default_factory=SystemClock)
    now: Callable[[], Any] = utc_now


_runtime: Runtime | None = None


def runtime_from_environment() -> Runtime:
    """Clients from boto3's standard chain (in Lambda: the function's role and region); endpoints from
    ``AWS_ENDPOINT_URL_<SERVICE>`` where set. Kept for the life of the execution environment."""
    global _runtime
    if _runtime is None:
        config = AutoImportConfig.from_environment()
        session = boto3.session.Session()

        def client(service: str, **options: Any) -> Any:
            return make_client(session, service, connect_timeout=5, read_timeout=30, **options)

        s3 = client("s3", max_pool_connections=32)
        require_conditional_writes(s3)
        _runtime = Runtime(
            config=config,
            services=Services(
                s3=s3,
                medical_imaging=client("medical-imaging"),
                sns=client("sns") if config.alert_topic_arn else None,
                # The importer retries starts itself (same client token, paced): no retries underneath.
                medical_imaging_starts=client("medical-imaging", max_attempts=0),
            ),
            sqs=client("sqs"),
            pacer=TokenBucket(1.0 / config.start_interval_seconds, burst=1),
        )
    return _runtime


def require_conditional_writes(s3: Any) -> None:
    """The record of each batch is written with S3's conditional writes (``If-Match``/``If-None-Match`` on PutObject),
    which boto3 knows since late 2024: refuse to run with an older one rather than overwrite another invocation's work."""
    members = s3.meta.service_model.operation_model("PutObject").input_shape.members
    if "IfMatch" not in members or "IfNoneMatch" not in members:
        raise ConfigurationError(
            "this function needs a boto3 whose S3 PutObject has IfMatch and IfNoneMatch (1.35.70 or later); the "
            "Lambda runtime's is older: add a newer boto3 in a layer."
        )


def importer_for(runtime: Runtime, deadline: float | None = None) -> BatchImporter:
    """An importer for one invocation: its count of the data store's free job places is fresh, and while the quota
    is full it waits for a place until ``deadline`` (on the runtime's clock; None: no waiting)."""
    config = runtime.config
    target = ImportTarget(
        datastore_id=config.datastore_id,
        import_role_arn=config.import_role_arn,
        input_bucket=config.input_bucket,
        output_bucket=config.output_bucket,
        account_id=config.account_id,
    )
    options = ImporterOptions(
        rules=BatchRules(
            marker_name=config.marker_name,
            job_limits=JobLimits(max_files=config.max_files_per_job),
            max_objects_per_batch=config.max_objects_per_batch,
        ),
        max_concurrent_jobs=config.max_concurrent_jobs,
        quiet_period_seconds=float(config.quiet_period_seconds),
        alert_topic_arn=config.alert_topic_arn,
        max_start_wait_seconds=float(config.start_retry_seconds),
    )
    slots = JobSlots(
        runtime.services.medical_imaging,
        config.datastore_id,
        config.max_concurrent_jobs,
        clock=runtime.clock,
        deadline=deadline,
        recheck_seconds=float(config.quota_recheck_seconds),
    )
    return BatchImporter(
        runtime.services, target, options, pacer=runtime.pacer, slots=slots, clock=runtime.clock, now=runtime.now
    )


def handle(event: Mapping[str, Any], context: Any = None, *, runtime: Runtime | None = None) -> dict[str, Any]:
    """Lambda's entry point for an SQS event source with ``ReportBatchItemFailures``; ``runtime`` replaces the one
    built from the environment (for tests)."""
    runtime = runtime or runtime_from_environment()
    deadline = quota_deadline = None
    if context is not None:
        started = runtime.clock.monotonic()
        deadline = started + (context.get_remaining_time_in_millis() - TIME_RESERVE_MS) / 1000
        quota_deadline = min(deadline, started + runtime.config.quota_wait_seconds)
    importer = importer_for(runtime, quota_deadline)
    # Batches whose jobs run go first: they never wait for the quota, which the others may do.
    records: Sequence[Mapping[str, Any]] = sorted(event.get("Records") or [], key=_follows_running_jobs, reverse=True)
    failures: list[str] = []
    for index, record in enumerate(records):
        message_id = str(record.get("messageId"))
        if deadline is not None and runtime.clock.monotonic() > deadline:
            for left in records[index:]:
                if not _put_back_unread(runtime, left):
                    failures.append(str(left.get("messageId")))
            LOG.info(json.dumps({"messageId": message_id, "action": "put back", "reason": "time is short"}))
            break
        if not handle_record(runtime, importer, record):
            failures.append(message_id)
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failures]}


def _follows_running_jobs(record: Mapping[str, Any]) -> bool:
    """Whether the message is the function's own for a batch whose jobs run (it only polls them)."""
    try:
        document = json.loads(str(record.get("body", "")))
    except ValueError:
        return False
    return isinstance(document, dict) and messages.ENVELOPE_KEY in document and document.get("stage") == STAGE_STARTED


def handle_record(runtime: Runtime, importer: BatchImporter, record: Mapping[str, Any]) -> bool:
    """Handle one message; False when it must be reported as a batch item failure."""
    config = runtime.config
    message_id = str(record.get("messageId"))
    log: dict[str, Any] = {"messageId": message_id}
    try:
        work = messages.parse_body(
            str(record.get("body", "")), marker_name=config.marker_name, quiet_period=config.quiet_period_seconds > 0
        )
        if isinstance(work, messages.Ignored):
            LOG.info(json.dumps({**log, "action": "ignored", "reason": work.reason}))
            return True
        if work.bucket != config.input_bucket:
            LOG.warning(json.dumps({**log, "action": "ignored", "reason": f"bucket {work.bucket} is not the input"}))
            return True
        step = run(importer, work)
    except (OpsError, messages.MalformedMessageError) as error:
        LOG.error(json.dumps({**log, "action": "failed", "error": type(error).__name__, "message": str(error)}))
        _failed(runtime, record, f"{type(error).__name__}: {error}")
        return False
    except Exception as error:
        LOG.exception(json.dumps({**log, "action": "failed", "error": "unexpected"}))
        _failed(runtime, record, f"unexpected {type(error).__name__}: {error}")
        return False
    log.update(step.to_log())
    if step.done:
        LOG.info(json.dumps({**log, "action": "done"}))
        return True
    delay = messages.delay_seconds(
        step,
        work.attempt,
        poll_initial=config.poll_initial_seconds,
        retry_initial=config.retry_initial_seconds,
        maximum=config.max_delay_seconds,
        retry_maximum=config.retry_max_seconds,
    )
    sent = _send(runtime, messages.waiting_message(work, step), delay)
    LOG.info(json.dumps({**log, "action": "put back" if sent else "retry", "delaySeconds": delay}))
    if not sent:
        _change_visibility(runtime, record, delay)
    return sent


def run(importer: BatchImporter, work: messages.Work) -> Step:
    """The importer's step that a message asks for."""
    assert work.batch_prefix is not None, work
    if work.kind == messages.KIND_MARKER:
        return importer.on_marker(work.batch_prefix, marker_id=work.marker_id)
    if work.kind == messages.KIND_NEW_OBJECT or work.stage == "quiet":
        assert work.key is not None, work
        return importer.on_new_object(work.key, event_time=work.event_time or importer.now())
    return importer.resume(work.batch_prefix, stage=work.stage or "ready", digest=work.digest)


def queue_for(config: AutoImportConfig, message: Mapping[str, Any]) -> str:
    """The queue a message of the function goes to: batches whose jobs run to the follow queue (its copies only poll,
    so a full job quota never holds up a result), everything else to the queue of new batches."""
    if message.get("stage") == STAGE_STARTED and config.follow_queue_url:
        return config.follow_queue_url
    return config.queue_url


def _source_queue(config: AutoImportConfig, record: Mapping[str, Any]) -> str:
    """The URL of the queue a received message came from (from its ``eventSourceARN``)."""
    name = str(record.get("eventSourceARN", "")).rsplit(":", 1)[-1]
    if config.follow_queue_url and name and config.follow_queue_url.rstrip("/").rsplit("/", 1)[-1] == name:
        return config.follow_queue_url
    return config.queue_url


def _send(runtime: Runtime, body: Mapping[str, Any], delay: int) -> bool:
    try:
        runtime.sqs.send_message(
            QueueUrl=queue_for(runtime.config, body), MessageBody=json.dumps(body), DelaySeconds=max(0, min(900, delay))
        )
    except Exception as error:  # any failure: the message it came in stays on the queue instead
        LOG.error(json.dumps({"action": "send failed", "error": repr(error)}))
        return False
    return True


def _put_back_unread(runtime: Runtime, record: Mapping[str, Any]) -> bool:
    """Put a message not handled in this invocation back on its queue as it is (no delay)."""
    try:
        runtime.sqs.send_message(
            QueueUrl=_source_queue(runtime.config, record), MessageBody=str(record.get("body", ""))
        )
    except Exception as error:
        LOG.error(json.dumps({"action": "send failed", "error": repr(error)}))
        return False
    return True


def _failed(runtime: Runtime, record: Mapping[str, Any], error: str) -> None:
    """A failed message comes back after a delay that grows with each receive; on its last receive before the
    dead-letter queue, the alert topic is told (the batch needs a person)."""
    config = runtime.config
    attributes = record.get("attributes") or {}
    try:
        receives = int(attributes.get("ApproximateReceiveCount", "1"))
    except ValueError:
        receives = 1
    _change_visibility(runtime, record, min(MAX_VISIBILITY_SECONDS, config.failure_retry_seconds * receives))
    if receives < config.max_receive_count or not config.alert_topic_arn or runtime.services.sns is None:
        return
    body = str(record.get("body", ""))
    try:
        runtime.services.sns.publish(
            TopicArn=config.alert_topic_arn,
            Subject="HealthImaging auto-import: a message goes to the dead-letter queue",
            Message=(
                f"The automatic importer failed {receives} time(s) on a message of its queue; it now moves to the "
                f"dead-letter queue and its batch is not imported until someone acts.\nLast error: {error}\n"
                f"Message: {body[:2000]}\nFix the cause (the function's log group has each attempt), then move the "
                "message back to the queue (SQS 'start DLQ redrive') or write the batch's marker again."
            ),
        )
    except Exception as publish_error:  # the dead-letter queue still holds the message
        LOG.error(json.dumps({"action": "alert failed", "error": repr(publish_error)}))


def _change_visibility(runtime: Runtime, record: Mapping[str, Any], seconds: int) -> None:
    handle_ = record.get("receiptHandle")
    if not handle_:
        return
    try:
        runtime.sqs.change_message_visibility(
            QueueUrl=_source_queue(runtime.config, record), ReceiptHandle=handle_, VisibilityTimeout=int(seconds)
        )
    except Exception as error:  # the queue's own visibility timeout applies instead
        LOG.warning(json.dumps({"action": "visibility not changed", "error": repr(error)}))
