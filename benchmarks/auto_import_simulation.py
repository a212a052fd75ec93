"""The automatic importer at scale, simulated: a stream of batches against the HealthImaging stand-in with a small
concurrent-job quota. Does any batch get lost or started twice, and is the quota kept busy?

Usage: ``venv/bin/python benchmarks/auto_import_simulation.py [--batches 20000] [--quota 20] [--json]``

What runs is the real function (``healthimaging_functions/auto_import/handler.py``, hence :mod:`ahiops.auto_import_steps` and the import
library), its real clients for S3 (moto, in process: ``MOTO_S3_CUSTOM_ENDPOINTS``) and HealthImaging (the stand-in of
``sandbox/healthimaging.py`` on loopback, whose quota answers ServiceQuotaExceededException). Simulated are time
and the AWS machinery around the function, so that days of uploads take minutes:

- a virtual clock: every wait of the function (the start pacing, its retries) advances the clock of the "copy" of the
  function that waits, and each message handled costs ``--message-seconds`` of it;
- SQS (delays, visibility timeouts, receive counts, a dead-letter queue after ``--max-receives``) and Lambda's event
  source (``--concurrency`` copies, up to 10 messages each, batch item failures handled as Lambda does);
- uploads and S3's events: each batch (one DICOM Part 10 file in a folder of its own, and its marker; every tenth
  batch with the file beside the marker, so that it is copied) appears at its arrival time with its marker's event;
- the jobs' run time: each job ends ``--job-minutes`` (uniform in the range) after it started; the stand-in then
  runs it against moto's S3 and writes its real output.

The stream: ``--burst`` batches at once (a site sends its backlog), then the rest at ``--load`` times the quota's
throughput (quota / mean job time), as Poisson arrivals. The baseline, computed in the same run, is an ideal
scheduler: every batch's job starts the moment the batch has arrived, a place in the quota is free and the last start
was a second ago (StartDICOMImportJob's rate), with the same job times. The figures: batches imported, lost and
started twice; the most jobs running at once and starts in any second; how busy the quota was while batches waited;
latency and the last batch's end against the ideal's; the function's messages, invocations and waits; the
dead-letter queue; the simulation's own wall time. Not a timed test: the virtual-time figures are what it shows.

Virtual time is kept by a coordinator: the copies of the function, the stream of uploads and the job ends each run
in a thread that waits on the virtual clock, and the clock moves on only when every one of them waits, so that what
happens at one virtual moment sees everything that happened before it (a copy waiting for a place in the quota sees
the jobs that end meanwhile, and another copy may start one of them meanwhile, as in Lambda).
"""

from __future__ import annotations

import argparse
import datetime as dt
import heapq
import io
import itertools
import json
import logging
import os
import random
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

# Run as a file (python benchmarks/auto_import_simulation.py): the project's packages are one level up.
if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ahictl.repository import REPOSITORY_ROOT

PROJECT_DIR: Final = REPOSITORY_ROOT

S3_ENDPOINT: Final = "http://s3.simulation.invalid"
REGION: Final = "us-east-1"
ACCOUNT: Final = "123456789012"
INPUT_BUCKET: Final = "sim-input"
OUTPUT_BUCKET: Final = "sim-output"
ROLE_ARN: Final = f"arn:aws:iam::{ACCOUNT}:role/sim-import-role"
QUEUE_URL: Final = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/sim-auto-import"
FOLLOW_QUEUE_URL: Final = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/sim-auto-import-follow"
EPOCH: Final = dt.datetime(2026, 11, 27, 18, 0, tzinfo=dt.UTC)  # a Friday evening
#: SQS's visibility timeout of the queue (six times the function's timeout, as the component sets it).
VISIBILITY_TIMEOUT: Final = 5400.0
BATCH_SIZE: Final = 10


# ---------------------------------------------------------------- virtual time and SQS


class VirtualTime:
    """A virtual clock shared by threads: ``sleep_until`` blocks until the clock reaches the time; the clock moves to
    the earliest wake-up only when every registered thread waits (:meth:`run`)."""

    def __init__(self) -> None:
        self.now = 0.0
        self._condition = threading.Condition()
        self._active = 0
        self._sleepers: list[tuple[float, int]] = []
        self._released: set[int] = set()
        self._sequence = itertools.count()
        self.finished = False

    def register(self) -> None:
        with self._condition:
            self._active += 1

    def unregister(self) -> None:
        with self._condition:
            self._active -= 1
            self._condition.notify_all()

    def sleep_until(self, moment: float) -> None:
        with self._condition:
            if self.finished:
                raise SimulationOverError
            ticket = next(self._sequence)
            heapq.heappush(self._sleepers, (moment, ticket))
            self._active -= 1
            self._condition.notify_all()
            self._condition.wait_for(lambda: ticket in self._released)
            self._released.discard(ticket)
            self._active += 1

    def run(self, until: float) -> None:
        """Move the clock on whenever every thread waits, until ``finish`` or the clock passes ``until``."""
        with self._condition:
            while True:
                self._condition.wait_for(lambda: self._active == 0 or self.finished)
                if self.finished or not self._sleepers:
                    self.finished = True
                    self._release_all()
                    return
                moment = self._sleepers[0][0]
                self.now = max(self.now, moment)
                if self.now > until:
                    self.finished = True
                    self._release_all()
                    return
                while self._sleepers and self._sleepers[0][0] <= self.now:
                    self._released.add(heapq.heappop(self._sleepers)[1])
                self._condition.notify_all()
                # Wait until every released sleeper has woken before looking at `_active` again.
                self._condition.wait_for(lambda: not self._released)

    def finish(self) -> None:
        with self._condition:
            self.finished = True
            self._condition.notify_all()

    def _release_all(self) -> None:
        while self._sleepers:
            self._released.add(heapq.heappop(self._sleepers)[1])
        self._condition.notify_all()


class CopyClock:
    """The clock the function's code sees: the virtual clock (waiting lets virtual time pass)."""

    def __init__(self, time_: VirtualTime) -> None:
        self.time = time_

    def monotonic(self) -> float:
        return self.time.now

    def sleep(self, seconds: float) -> None:
        if self.time.finished:
            raise SimulationOverError
        if seconds > 0:
            self.time.sleep_until(self.time.now + seconds)


class SimulationOverError(BaseException):
    """The virtual clock stopped while a copy of the function was waiting: it stops too (not an error of the code)."""


@dataclass
class Message:
    message_id: str
    body: str
    sent_at: float
    receives: int = 0
    version: int = 0
    deleted: bool = False


@dataclass
class Simulation:
    """Virtual time, and the jobs the stand-in runs in it: each ends its batch's job time after its start."""

    fake: Any
    s3: Any
    by_name: dict[str, Batch]
    time: VirtualTime = field(default_factory=VirtualTime)
    endings: list[tuple[float, str]] = field(default_factory=list)
    ended: dict[str, float] = field(default_factory=dict)
    job_batch: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> float:
        return self.time.now

    def job_started(self, at: float, job_id: str, input_uri: str) -> None:
        with self.lock:
            if job_id in self.job_batch:
                return  # a start that returned an existing job
            name = _batch_of(self.s3, input_uri)
            self.job_batch[job_id] = name
            heapq.heappush(self.endings, (at + self.by_name[name].job_seconds, job_id))

    def end_jobs_until(self, moment: float) -> None:
        while True:
            with self.lock:
                if not self.endings or self.endings[0][0] > moment:
                    return
                end, job_id = heapq.heappop(self.endings)
                self.ended[job_id] = end
            self.fake.complete_job(job_id)

    def next_ending(self) -> float | None:
        with self.lock:
            return self.endings[0][0] if self.endings else None


class SimulatedQueue:
    """SQS as the function and Lambda use it: delays, visibility timeouts, receive counts and a dead-letter queue."""

    def __init__(self, simulation: Simulation, max_receives: int) -> None:
        self.lock = threading.RLock()
        self.simulation = simulation
        self.max_receives = max_receives
        self.messages: dict[str, Message] = {}
        self.heap: list[tuple[float, int, str, int]] = []
        self.dead_letters: list[Message] = []
        self.sent = Counter[str]()
        self._sequence = 0

    def _schedule(self, message: Message, at: float) -> None:
        message.version += 1
        self._sequence += 1
        heapq.heappush(self.heap, (at, self._sequence, message.message_id, message.version))

    def put(self, body: str, at: float, kind: str = "event") -> None:
        with self.lock:
            message = Message(uuid.uuid4().hex, body, at)
            self.messages[message.message_id] = message
            self.sent[kind] += 1
            self._schedule(message, at)

    # The two calls the function makes (boto3's signatures).
    def send_message(self, QueueUrl: str, MessageBody: str, DelaySeconds: int = 0) -> dict[str, Any]:  # noqa: N803
        waiting = json.loads(MessageBody).get("waitingFor") or "unread"
        self.put(MessageBody, self.simulation.now() + DelaySeconds, kind=f"put back ({waiting})")
        return {"MessageId": "sim"}

    def change_message_visibility(self, QueueUrl: str, ReceiptHandle: str, VisibilityTimeout: int) -> None:  # noqa: N803
        with self.lock:
            message = self.messages.get(ReceiptHandle)
            if message is not None and not message.deleted:
                self._schedule(message, self.simulation.now() + VisibilityTimeout)

    def receive(self, at: float, limit: int) -> list[Message]:
        with self.lock:
            found: list[Message] = []
            while self.heap and self.heap[0][0] <= at and len(found) < limit:
                _, _, message_id, version = heapq.heappop(self.heap)
                message = self.messages.get(message_id)
                if message is None or message.deleted or message.version != version:
                    continue
                message.receives += 1
                if message.receives > self.max_receives:
                    message.deleted = True
                    self.dead_letters.append(message)
                    del self.messages[message_id]
                    continue
                self._schedule(message, at + VISIBILITY_TIMEOUT)
                found.append(message)
            return found

    def delete(self, message: Message) -> None:
        with self.lock:
            message.deleted = True
            self.messages.pop(message.message_id, None)

    def next_visible(self) -> float | None:
        with self.lock:
            while self.heap:
                at, _, message_id, version = self.heap[0]
                message = self.messages.get(message_id)
                if message is not None and not message.deleted and message.version == version:
                    return at
                heapq.heappop(self.heap)
            return None

    @property
    def pending(self) -> int:
        """Messages not deleted yet: waiting, delayed or being handled."""
        with self.lock:
            return len(self.messages)


class SimulatedQueues:
    """The function's SQS client: each call goes to the queue its ``QueueUrl`` names."""

    def __init__(self, by_url: dict[str, SimulatedQueue]) -> None:
        self.by_url = by_url

    def send_message(self, QueueUrl: str, MessageBody: str, DelaySeconds: int = 0) -> dict[str, Any]:  # noqa: N803
        return self.by_url[QueueUrl].send_message(QueueUrl, MessageBody, DelaySeconds)

    def change_message_visibility(self, QueueUrl: str, ReceiptHandle: str, VisibilityTimeout: int) -> None:  # noqa: N803
        self.by_url[QueueUrl].change_message_visibility(QueueUrl, ReceiptHandle, VisibilityTimeout)

    @property
    def pending(self) -> int:
        return sum(queue.pending for queue in self.by_url.values())


class RecordingStarts:
    """The function's StartDICOMImportJob client, recording the virtual time of every start that returned a job."""

    def __init__(self, client: Any, simulation: Simulation) -> None:
        self._client = client
        self._simulation = simulation
        self.started: list[tuple[float, str, str]] = []

    def start_dicom_import_job(self, **params: Any) -> Any:
        response = self._client.start_dicom_import_job(**params)
        started = (self._simulation.now(), str(response["jobId"]), str(params["inputS3Uri"]))
        self.started.append(started)
        self._simulation.job_started(*started)
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class Context:
    def get_remaining_time_in_millis(self) -> int:
        return 900_000


# ---------------------------------------------------------------- the stream and the ideal baseline


@dataclass(frozen=True)
class Batch:
    name: str
    arrives: float
    job_seconds: float
    copied: bool

    @property
    def prefix(self) -> str:
        return f"incoming/{self.name}/"


def stream(args: argparse.Namespace) -> list[Batch]:
    rng = random.Random(args.seed)  # noqa: S311 - a reproducible stream, not a secret
    low, high = args.job_minutes
    mean_seconds = 60 * (low + high) / 2
    rate = args.load * args.quota / mean_seconds  # batches per second after the burst
    batches: list[Batch] = []
    clock = 0.0
    for number in range(args.batches):
        if number >= args.burst:
            clock += rng.expovariate(rate)
        batches.append(
            Batch(f"site-{number % 7}-batch-{number:06d}", clock, 60 * rng.uniform(low, high), copied=number % 10 == 9)
        )
    return batches


def ideal_schedule(batches: list[Batch], quota: int) -> dict[str, tuple[float, float]]:
    """Start and end of each batch's job under the ideal scheduler (see the module docstring), in arrival order."""
    running: list[float] = []  # end times of the jobs started so far
    last_start = float("-inf")
    schedule: dict[str, tuple[float, float]] = {}
    for batch in sorted(batches, key=lambda b: b.arrives):
        start = max(batch.arrives, last_start + 1.0)
        while running and running[0] <= start:
            heapq.heappop(running)
        if len(running) >= quota:
            start = max(start, heapq.heappop(running))
            while running and running[0] <= start:
                heapq.heappop(running)
        heapq.heappush(running, start + batch.job_seconds)
        last_start = start
        schedule[batch.name] = (start, start + batch.job_seconds)
    return schedule


# ---------------------------------------------------------------- running


def scaled_stand_in(base: type[Any]) -> type[Any]:
    """The HealthImaging stand-in, answering ListDICOMImportJobs for one status by filtering its jobs before sorting
    them (the same answers: newest first, 50 a page), so that tens of thousands of ended jobs do not make every
    count of the running ones sort them all."""

    class ScaledStandIn(base):
        def _list_import_jobs(self, parsed: Any) -> dict[str, Any]:
            status = parsed.params.get("jobStatus")
            if status is None or self.seconds_until_done is not None:
                return dict(super()._list_import_jobs(parsed))
            datastore = self._datastore(parsed)
            jobs = [
                job for job in self.jobs.values() if job.datastore_id == datastore.datastore_id and job.status == status
            ]
            jobs.sort(key=lambda job: job.submitted_at, reverse=True)
            page, next_token = self._page(parsed, jobs)
            return {
                "jobSummaries": [
                    {
                        "jobId": job.job_id,
                        "jobName": job.job_name,
                        "jobStatus": job.status,
                        "datastoreId": job.datastore_id,
                        "dataAccessRoleArn": job.data_access_role_arn,
                        "endedAt": job.ended_at,
                        "submittedAt": job.submitted_at,
                        "message": job.message,
                    }
                    for job in page
                ],
                "nextToken": next_token,
            }

    return ScaledStandIn


def dicom_file() -> bytes:
    """A small DICOM Part 10 file (no pixels): every batch's one file."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID("1.2.840.10008.5.1.4.1.1.2")
    meta.MediaStorageSOPInstanceUID = UID(generate_uid())
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID = meta.MediaStorageSOPClassUID
    dataset.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    dataset.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.1"
    dataset.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.2"
    dataset.Modality = "CT"
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def marker_event(batch: Batch) -> str:
    """What EventBridge puts on the queue for the batch's marker (S3's ``Object Created``)."""
    return json.dumps(
        {
            "version": "0",
            "id": uuid.uuid4().hex,
            "detail-type": "Object Created",
            "source": "aws.s3",
            "account": ACCOUNT,
            "time": (EPOCH + dt.timedelta(seconds=batch.arrives)).isoformat().replace("+00:00", "Z"),
            "region": REGION,
            "resources": [f"arn:aws:s3:::{INPUT_BUCKET}"],
            "detail": {
                "bucket": {"name": INPUT_BUCKET},
                "object": {"key": batch.prefix + "_READY", "size": 0, "sequencer": f"{int(batch.arrives * 1e6):016X}"},
                "reason": "PutObject",
            },
        }
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    os.environ.update(
        MOTO_S3_CUSTOM_ENDPOINTS=S3_ENDPOINT,
        AWS_ENDPOINT_URL_S3=S3_ENDPOINT,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",  # noqa: S106 - moto's conventional dummy value
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        AWS_EC2_METADATA_DISABLED="true",
        NO_PROXY="127.0.0.1,localhost",
    )
    import boto3
    from botocore.config import Config
    from moto import mock_aws

    from ahiops.pacing import TokenBucket
    from healthimaging_functions.auto_import import handler
    from healthimaging_functions.auto_import.config import AutoImportConfig
    from sandbox import http_server
    from sandbox.healthimaging import HealthImagingEmulator

    logging.getLogger("auto_import").setLevel(logging.WARNING)
    # The stand-in answers with headers and body in two writes: without TCP_NODELAY, each answer waits for the
    # client's delayed acknowledgement (tens of milliseconds), which would dominate the simulation's wall time.
    http_server._Handler.disable_nagle_algorithm = True
    batches = stream(args)
    by_name = {batch.name: batch for batch in batches}
    wall_started = time.perf_counter()
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION, endpoint_url=S3_ENDPOINT)
        for bucket in (INPUT_BUCKET, OUTPUT_BUCKET):
            s3.create_bucket(Bucket=bucket)
        fake = scaled_stand_in(HealthImagingEmulator)(s3_endpoint_url=S3_ENDPOINT, region=REGION, account_id=ACCOUNT)
        fake.start()
        try:
            fake.max_concurrent_jobs = args.quota
            fake.polls_until_done = 10**9  # the simulation ends jobs at their time
            datastore_id, _ = fake.create_datastore("simulation")
            os.environ["AWS_ENDPOINT_URL_MEDICAL_IMAGING"] = fake.endpoint_url
            simulation = Simulation(fake=fake, s3=s3, by_name=by_name)
            queues = SimulatedQueues(
                {url: SimulatedQueue(simulation, args.max_receives) for url in (QUEUE_URL, FOLLOW_QUEUE_URL)}
            )
            config = AutoImportConfig(
                input_bucket=INPUT_BUCKET,
                output_bucket=OUTPUT_BUCKET,
                account_id=ACCOUNT,
                datastore_id=datastore_id,
                import_role_arn=ROLE_ARN,
                queue_url=QUEUE_URL,
                follow_queue_url=FOLLOW_QUEUE_URL,
                max_concurrent_jobs=args.quota,
                start_interval_seconds=float(args.concurrency),
                max_receive_count=args.max_receives,
            )
            retries = Config(retries={"mode": "standard", "max_attempts": 3}, max_pool_connections=32)
            session = boto3.session.Session()
            s3_client = session.client("s3", config=retries)
            reads = session.client("medical-imaging", config=retries)
            starts = RecordingStarts(
                session.client("medical-imaging", config=Config(retries={"total_max_attempts": 1})), simulation
            )
            clock = CopyClock(simulation.time)
            runtimes = [
                handler.Runtime(
                    config=config,
                    services=handler.Services(
                        s3=s3_client, medical_imaging=reads, sns=None, medical_imaging_starts=starts
                    ),
                    sqs=queues,
                    # Each copy paces its own starts (one per `concurrency` seconds), as in Lambda.
                    pacer=TokenBucket(1.0 / config.start_interval_seconds, burst=1, clock=clock),
                    clock=clock,
                    now=lambda: EPOCH + dt.timedelta(seconds=simulation.time.now),
                )
                for _ in range(2 * args.concurrency)
            ]
            figures = _simulate(args, batches, runtimes, simulation, queues, starts, dicom_file())
        finally:
            fake.stop()
    figures["simulation_wall_seconds"] = round(time.perf_counter() - wall_started, 1)
    return figures


@dataclass
class Counts:
    invocations: int = 0
    messages: int = 0
    failures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


#: How often (virtual seconds) progress is reported on standard error.
PROGRESS_EVERY_SECONDS: Final = 6 * 3600.0
#: Longest virtual sleep of an idle copy of the function or of the uploads' thread (Lambda polls SQS all the time).
IDLE_TICK_SECONDS: Final = 5.0


def _simulate(
    args: argparse.Namespace,
    batches: list[Batch],
    runtimes: list[Any],
    simulation: Simulation,
    queues: SimulatedQueues,
    starts: RecordingStarts,
    body: bytes,
) -> dict[str, Any]:
    from healthimaging_functions.auto_import import handler

    clock = simulation.time
    counts = Counts()
    arrivals = sorted(batches, key=lambda b: b.arrives)
    errors: list[BaseException] = []

    def world() -> None:
        """Uploads arrive with their markers' events; jobs end; the clock stops when nothing is left to happen."""
        next_arrival = 0
        next_report = PROGRESS_EVERY_SECONDS
        while True:
            now = clock.now
            if now >= next_report:
                next_report += PROGRESS_EVERY_SECONDS
                print(
                    f"virtual {now / 3600:.0f} h: {next_arrival:,} batches arrived, {len(simulation.job_batch):,} jobs "
                    f"started, {len(simulation.ended):,} ended, {queues.pending:,} messages in the queues",
                    file=sys.stderr,
                    flush=True,
                )
            while next_arrival < len(arrivals) and arrivals[next_arrival].arrives <= now:
                batch = arrivals[next_arrival]
                key = batch.prefix + (f"{batch.name}.dcm" if batch.copied else f"study/series/{batch.name}.dcm")
                simulation.s3.put_object(Bucket=INPUT_BUCKET, Key=key, Body=body)
                simulation.s3.put_object(Bucket=INPUT_BUCKET, Key=batch.prefix + "_READY", Body=b"")
                queues.by_url[QUEUE_URL].put(marker_event(batch), batch.arrives)
                next_arrival += 1
            simulation.end_jobs_until(now)
            upcoming = [now + IDLE_TICK_SECONDS]
            if next_arrival < len(arrivals):
                upcoming.append(arrivals[next_arrival].arrives)
            ending = simulation.next_ending()
            if ending is not None:
                upcoming.append(ending)
            if next_arrival == len(arrivals) and ending is None and queues.pending == 0:
                clock.finish()
                return
            clock.sleep_until(min(upcoming))

    def function_copy(url: str) -> None:
        """One copy of the function behind Lambda's event source on the queue ``url``."""
        runtime = runtimes.pop()
        queue = queues.by_url[url]
        source_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{url.rsplit('/', 1)[-1]}"
        while not clock.finished:
            now = clock.now
            received = queue.receive(now, BATCH_SIZE)
            if not received:
                visible = queue.next_visible()
                clock.sleep_until(min(now + IDLE_TICK_SECONDS, visible if visible is not None else float("inf")))
                continue
            event = {
                "Records": [
                    {
                        "messageId": m.message_id,
                        "receiptHandle": m.message_id,
                        "body": m.body,
                        "attributes": {"ApproximateReceiveCount": str(m.receives)},
                        "eventSourceARN": source_arn,
                    }
                    for m in received
                ]
            }
            response = handler.handle(event, Context(), runtime=runtime)
            failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
            for message in received:
                if message.message_id not in failed:
                    queue.delete(message)
            with counts.lock:
                counts.invocations += 1
                counts.messages += len(received)
                counts.failures += len(failed)
            clock.sleep_until(clock.now + args.message_seconds * len(received))

    def actor(target: Any) -> None:
        try:
            target()
        except SimulationOverError:
            pass
        except BaseException as error:  # reported after the run; the clock stops
            errors.append(error)
            clock.finish()
        finally:
            clock.unregister()

    threads = [threading.Thread(target=actor, args=(world,), name="uploads", daemon=True)]
    threads += [
        threading.Thread(target=actor, args=(lambda url=url: function_copy(url),), name=f"copy-{n}", daemon=True)
        for url in (QUEUE_URL, FOLLOW_QUEUE_URL)
        for n in range(args.concurrency)
    ]
    for thread in threads:
        clock.register()
        thread.start()
    clock.run(until=3600.0 * args.max_hours)
    for thread in threads:
        thread.join(timeout=60)
    if errors:
        raise RuntimeError(f"the simulation failed: {errors[0]!r}") from errors[0]
    return _figures(args, batches, simulation, queues, starts, counts.invocations, counts.messages, counts.failures)


def _batch_of(s3: Any, input_uri: str) -> str:
    """The batch a job imports: named in its prefix (``incoming/<batch>/study/``), or, for a job of copies, in its one
    file's name (``auto-imports/<digest>/job-0001/<batch>.dcm``)."""
    _, _, prefix = input_uri[len("s3://") :].partition("/")
    if prefix.startswith("incoming/"):
        return prefix.split("/")[1]
    (item,) = s3.list_objects_v2(Bucket=INPUT_BUCKET, Prefix=prefix)["Contents"]
    return str(item["Key"]).rsplit("/", 1)[-1].removesuffix(".dcm")


def _figures(
    args: argparse.Namespace,
    batches: list[Batch],
    simulation: Simulation,
    queues: SimulatedQueues,
    starts: RecordingStarts,
    invocations: int,
    messages_handled: int,
    failures: int,
) -> dict[str, Any]:
    s3, fake, job_batch, ended = simulation.s3, simulation.fake, simulation.job_batch, simulation.ended
    results: dict[str, dict[str, Any]] = {}
    finished: dict[str, float] = {}
    for batch in batches:
        try:
            document = json.loads(s3.get_object(Bucket=INPUT_BUCKET, Key=batch.prefix + "_RESULT.json")["Body"].read())
        except s3.exceptions.NoSuchKey:
            continue
        results[batch.name] = document
        finished[batch.name] = (
            dt.datetime.fromisoformat(document["finishedAt"].replace("Z", "+00:00")) - EPOCH
        ).total_seconds()
    statuses = Counter(document["status"] for document in results.values())
    jobs_per_batch = Counter(job_batch.values())
    start_requests = [params for operation, params in fake.requests if operation == "StartDICOMImportJob"]
    start_times = sorted(t for t, _, _ in starts.started)
    intervals = [(t, ended.get(job_id, t)) for t, job_id, _ in starts.started if job_id in job_batch]
    first_start: dict[str, float] = {}
    for t, job_id, _ in sorted(starts.started):
        first_start.setdefault(job_batch[job_id], t)
    busy = _busy_while_waiting(batches, first_start, intervals, args.quota)
    ideal = ideal_schedule(batches, args.quota)
    latencies = sorted(finished[b.name] - b.arrives for b in batches if b.name in finished)
    ideal_latencies = sorted(ideal[b.name][1] - b.arrives for b in batches)
    last_end = max(finished.values()) if finished else float("nan")
    ideal_last_end = max(end for _, end in ideal.values())
    counts = sum(1 for operation, _ in fake.requests if operation == "ListDICOMImportJobs")
    return {
        "batches": len(batches),
        "burst": args.burst,
        "quota": args.quota,
        "concurrency": args.concurrency,
        "job_minutes": list(args.job_minutes),
        "load": args.load,
        "imported": statuses.get("IMPORTED", 0),
        "results_by_status": dict(statuses),
        "lost": len(batches) - len(results),
        "batches_with_more_than_one_job": sum(1 for count in jobs_per_batch.values() if count > 1),
        "jobs_created": len(fake.jobs),
        "start_requests": len(start_requests),
        "start_requests_refused": len(start_requests) - len(starts.started),
        "list_jobs_requests": counts,
        "list_jobs_requests_per_hour": round(counts / (last_end / 3600), 1) if last_end else None,
        "most_jobs_running_at_once": _most_overlapping(intervals),
        "most_starts_in_one_second": _most_in_window(start_times, 1.0),
        "quota_busy_while_batches_waited": round(busy, 4),
        "latency_minutes": _summary([x / 60 for x in latencies]),
        "ideal_latency_minutes": _summary([x / 60 for x in ideal_latencies]),
        "last_batch_done_hours": round(last_end / 3600, 2),
        "ideal_last_batch_done_hours": round(ideal_last_end / 3600, 2),
        "last_batch_done_vs_ideal": round(last_end / ideal_last_end, 4) if ideal_last_end else None,
        "invocations": invocations,
        "messages_handled": messages_handled,
        "messages_sent": {
            ("follow queue " if url == FOLLOW_QUEUE_URL else "") + kind: count
            for url, queue in queues.by_url.items()
            for kind, count in queue.sent.items()
        },
        "batch_item_failures": failures,
        "dead_letters": sum(len(queue.dead_letters) for queue in queues.by_url.values()),
    }


def _most_in_window(times: list[float], window: float) -> int:
    most = 0
    left = 0
    for right, value in enumerate(times):
        while value - times[left] >= window:
            left += 1
        most = max(most, right - left + 1)
    return most


def _most_overlapping(intervals: list[tuple[float, float]]) -> int:
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = most = 0
    for _, change in events:
        running += change
        most = max(most, running)
    return most


def _busy_while_waiting(
    batches: list[Batch], first_start: dict[str, float], intervals: list[tuple[float, float]], quota: int
) -> float:
    """Share of the quota's places in use while at least one arrived batch had no job started yet."""
    events: list[tuple[float, int, int]] = []  # (time, waiting change, running change)
    for batch in batches:
        events.append((batch.arrives, 1, 0))
        events.append((first_start.get(batch.name, float("inf")), -1, 0))
    for start, end in intervals:
        events += [(start, 0, 1), (end, 0, -1)]
    events.sort()
    waiting = running = 0
    used = total = 0.0
    previous = events[0][0] if events else 0.0
    for moment, waiting_change, running_change in events:
        if moment == float("inf"):
            break
        if waiting > 0:
            used += running * (moment - previous)
            total += quota * (moment - previous)
        waiting += waiting_change
        running += running_change
        previous = moment
    return used / total if total else 1.0


def _summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {
        "median": round(statistics.median(values), 1),
        "p95": round(values[min(len(values) - 1, int(0.95 * len(values)))], 1),
        "max": round(values[-1], 1),
    }


def _human(figures: dict[str, Any]) -> str:
    f = figures
    lines = [
        f"Auto-import simulation: {f['batches']:,} batches ({f['burst']:,} at once, then {f['load']}x the quota's "
        f"throughput), quota {f['quota']} concurrent jobs, {f['concurrency']} copies of the function, jobs of "
        f"{f['job_minutes'][0]}-{f['job_minutes'][1]} minutes",
        f"  imported: {f['imported']:,}   lost: {f['lost']}   started twice: {f['batches_with_more_than_one_job']}   "
        f"results: {f['results_by_status']}",
        f"  jobs created: {f['jobs_created']:,}   start requests: {f['start_requests']:,} "
        f"(refused: {f['start_requests_refused']})   ListDICOMImportJobs requests: {f['list_jobs_requests']:,} "
        f"({f['list_jobs_requests_per_hour']} an hour)",
        f"  most jobs running at once: {f['most_jobs_running_at_once']} (quota {f['quota']}; the stand-in refuses "
        "more)   "
        f"most starts in one second: {f['most_starts_in_one_second']} (rate 1/s, burst 2)",
        f"  quota busy while batches waited: {100 * f['quota_busy_while_batches_waited']:.1f} %",
        f"  latency (minutes, marker to result): {f['latency_minutes']}   ideal: {f['ideal_latency_minutes']}",
        f"  last batch done after {f['last_batch_done_hours']} h; ideal {f['ideal_last_batch_done_hours']} h "
        f"(ratio {f['last_batch_done_vs_ideal']})",
        f"  function: {f['invocations']:,} invocations, {f['messages_handled']:,} messages; sent {f['messages_sent']}; "
        f"batch item failures {f['batch_item_failures']}; dead letters {f['dead_letters']}",
        f"  simulation wall time: {f['simulation_wall_seconds']} s",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=20_000)
    parser.add_argument("--burst", type=int, default=2_000, help="batches that arrive at once at the start")
    parser.add_argument("--quota", type=int, default=20, help="concurrent import jobs of the data store")
    parser.add_argument("--concurrency", type=int, default=2, help="copies of the function")
    parser.add_argument("--job-minutes", type=float, nargs=2, default=(4.0, 8.0), metavar=("MIN", "MAX"))
    parser.add_argument(
        "--load", type=float, default=0.9, help="arrival rate after the burst, x the quota's throughput"
    )
    parser.add_argument("--message-seconds", type=float, default=0.2, help="virtual time one message costs")
    parser.add_argument("--max-receives", type=int, default=5, help="receives before the dead-letter queue")
    parser.add_argument("--max-hours", type=float, default=24 * 30, help="stop the virtual clock after this long")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    figures = run(args)
    print(json.dumps(figures, indent=2) if args.json else _human(figures))
    return 0 if figures["lost"] == 0 and figures["batches_with_more_than_one_job"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
