"""The queue's messages, pure: what a message asks for (:func:`parse_body`), the message that puts a waiting batch back
(:func:`waiting_message`) and how long it waits (:func:`delay_seconds`).

Two kinds of message reach the queue:

- S3's ``Object Created`` events, through the EventBridge rule: a marker (``incoming/<batch>/<marker>``) starts its
  batch; with a quiet period, any other new object under ``incoming/<batch>/`` may start it later; the importer's own
  files and anything else are ignored.
- The function's own messages for a batch it put back to wait: ``{"autoImport": 1, "stage": ..., "batch": ...}``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from dataclasses import dataclass
from typing import Any, Final

from ahiops import batches
from ahiops.auto_import_steps import (
    STAGE_QUIET,
    STAGE_READY,
    STAGE_STARTED,
    WAIT_BUSY,
    WAIT_JOBS,
    WAIT_QUIET,
    WAIT_QUOTA,
    Step,
    parse_time,
)

#: The key and version of the function's own messages.
ENVELOPE_KEY: Final = "autoImport"
ENVELOPE_VERSION: Final = 1
S3_EVENT_SOURCE: Final = "aws.s3"
OBJECT_CREATED: Final = "Object Created"
KIND_MARKER: Final = "marker"
KIND_NEW_OBJECT: Final = "new-object"
KIND_RESUME: Final = "resume"
#: Growth of the delay with each wait of the same batch, and the share of random spread added to it.
DELAY_GROWTH: Final = 1.5
DELAY_JITTER: Final = 0.1
#: How a batch's wait for a place in the quota shrinks with each wait (the longest waiting come back most often).
QUOTA_WAIT_AGING: Final = 0.75
#: Seconds a batch waits when another invocation is working on it.
BUSY_DELAY_SECONDS: Final = 15


class MalformedMessageError(Exception):
    """A message that is neither an S3 event nor one of the function's own messages."""


@dataclass(frozen=True)
class Work:
    """What one message asks the importer to do."""

    kind: str
    bucket: str
    batch_prefix: str | None = None
    #: The object's key (markers and new objects).
    key: str | None = None
    event_time: dt.datetime | None = None
    #: Where to resume (the function's own messages).
    stage: str | None = None
    digest: str | None = None
    #: How many times the batch was put back to wait already.
    attempt: int = 0
    #: Which write of the marker this is: S3's version id of the marker, else the event's sequencer.
    marker_id: str | None = None
    #: What the batch waited for last (the function's own messages).
    waiting_for: str | None = None


@dataclass(frozen=True)
class Ignored:
    reason: str


def parse_body(body: str, *, marker_name: str, quiet_period: bool) -> Work | Ignored:
    """What a message's body asks for; raises :class:`MalformedMessageError` for anything unreadable."""
    try:
        document = json.loads(body)
    except ValueError:
        raise MalformedMessageError(f"the message is not JSON: {body[:200]!r}") from None
    if not isinstance(document, dict):
        raise MalformedMessageError(f"the message is not a JSON object: {body[:200]!r}")
    if ENVELOPE_KEY in document:
        return _own_message(document)
    if document.get("source") == S3_EVENT_SOURCE:
        return _s3_event(document, marker_name=marker_name, quiet_period=quiet_period)
    raise MalformedMessageError(
        f"unexpected message (source {document.get('source')!r}, detail-type {document.get('detail-type')!r})"
    )


def _s3_event(document: dict[str, Any], *, marker_name: str, quiet_period: bool) -> Work | Ignored:
    if document.get("detail-type") != OBJECT_CREATED:
        return Ignored(f"S3 event {document.get('detail-type')!r}, not {OBJECT_CREATED!r}")
    detail = document.get("detail")
    try:
        bucket = str(detail["bucket"]["name"])  # type: ignore[index]
        key = str(detail["object"]["key"])  # type: ignore[index]
    except (KeyError, TypeError):
        raise MalformedMessageError(f"an S3 event without bucket and key: {json.dumps(detail)[:300]}") from None
    event_time = _event_time(document.get("time"))
    if batches.is_control_key(key):
        return Ignored(f"{key} is written by the importer")
    batch = batches.batch_of_marker(key, marker_name)
    if batch is not None:
        described = detail.get("object") or {}  # type: ignore[union-attr]
        version = described.get("version-id")
        marker_id = version if version and version != "null" else described.get("sequencer")
        return Work(
            KIND_MARKER,
            bucket,
            batch_prefix=batch,
            key=key,
            event_time=event_time,
            marker_id=str(marker_id) if marker_id else None,
        )
    if quiet_period and batches.quiet_batch_of(key) is not None and not key.endswith("/" + marker_name):
        return Work(KIND_NEW_OBJECT, bucket, batch_prefix=batches.quiet_batch_of(key), key=key, event_time=event_time)
    return Ignored(f"{key} is not a batch's marker")


def _own_message(document: dict[str, Any]) -> Work:
    if document.get(ENVELOPE_KEY) != ENVELOPE_VERSION:
        raise MalformedMessageError(f"a message of another version of this function: {json.dumps(document)[:300]}")
    try:
        stage = str(document["stage"])
        if stage not in (STAGE_READY, STAGE_STARTED, STAGE_QUIET):
            raise ValueError(stage)
        batch = str(document["batch"])
        if not batch.startswith(batches.INCOMING_PREFIX):
            raise ValueError(batch)
        return Work(
            KIND_RESUME,
            bucket=str(document["bucket"]),
            batch_prefix=batch,
            key=document.get("key"),
            event_time=_event_time(document["eventTime"]) if document.get("eventTime") else None,
            stage=stage,
            digest=document.get("digest"),
            attempt=int(document.get("attempt", 0)),
            waiting_for=document.get("waitingFor"),
        )
    except (KeyError, ValueError, TypeError) as error:
        raise MalformedMessageError(
            f"a malformed message of this function ({error!r}): {json.dumps(document)[:300]}"
        ) from None


def _event_time(value: Any) -> dt.datetime | None:
    """EventBridge's ``time`` (ISO 8601; a number of seconds is accepted too)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(float(value), dt.UTC)
    if isinstance(value, str) and value:
        try:
            return parse_time(value)
        except ValueError:
            return None
    return None


def waiting_message(work: Work, step: Step) -> dict[str, Any]:
    """The function's own message that brings a waiting batch back (its next attempt)."""
    message: dict[str, Any] = {
        ENVELOPE_KEY: ENVELOPE_VERSION,
        "stage": step.stage or STAGE_READY,
        "bucket": work.bucket,
        "batch": step.batch_prefix if step.batch_prefix.endswith("/") else work.batch_prefix,
        "digest": step.digest,
        "attempt": work.attempt + 1,
        "waitingFor": step.wait,
    }
    if step.stage == STAGE_QUIET:
        message["key"] = work.key
        message["eventTime"] = (work.event_time or dt.datetime.now(dt.UTC)).isoformat()
    return message


def delay_seconds(
    step: Step,
    attempt: int,
    *,
    poll_initial: float,
    retry_initial: float,
    maximum: float,
    retry_maximum: float | None = None,
    jitter: float = DELAY_JITTER,
    rng: random.Random | None = None,
) -> int:
    """Seconds a batch waits before it is looked at again (at most ``maximum``, SQS's 900 at most), spread by up to
    ``jitter`` so that batches put back together do not all come back at once:

    - the rest of its quiet period;
    - while its jobs run: from ``poll_initial``, growing by :data:`DELAY_GROWTH` with each wait (a job can take
      hours: its polls slow down to the maximum);
    - while starts are throttled: from ``retry_initial``, growing the same way, up to ``retry_maximum``;
    - while the quota is full: from ``retry_maximum`` down to ``retry_initial``, shrinking by
      :data:`QUOTA_WAIT_AGING` with each wait. A place frees up whenever any job of the data store ends, and the
      batches that have waited longest come back most often, so they tend to get it first (close to first come,
      first served without any shared list of who waits)."""
    retry_maximum = retry_initial if retry_maximum is None else max(retry_maximum, retry_initial)
    if step.wait == WAIT_QUIET:
        return int(min(maximum, max(1.0, math.ceil(step.delay_seconds or 0.0))))
    if step.wait == WAIT_BUSY:
        base = float(BUSY_DELAY_SECONDS)
    elif step.wait == WAIT_JOBS:
        base = poll_initial * DELAY_GROWTH ** max(0, attempt)
    elif step.wait == WAIT_QUOTA:
        base = max(retry_initial, retry_maximum * QUOTA_WAIT_AGING ** max(0, attempt))
    else:
        base = min(retry_maximum, retry_initial * DELAY_GROWTH ** max(0, attempt))
    spread = (rng or random).uniform(0.0, jitter) if jitter > 0 else 0.0
    return int(min(maximum, math.ceil(base * (1.0 + spread))))
