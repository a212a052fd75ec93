"""Lambda's SQS event source, for offline tests: hands a queue's messages to a handler in batches, as Lambda does.

Lambda receives up to ``batch_size`` messages, calls the function with an SQS event (``Records`` with ``messageId``,
``receiptHandle``, ``body``, ``attributes``...), and with ``ReportBatchItemFailures`` deletes every message the function
did not list in ``batchItemFailures``; the listed ones become visible again after their visibility timeout. The queue
is moto's (reached through ``AWS_ENDPOINT_URL_SQS``); delays and visibility timeouts run in real time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Handler = Callable[[Mapping[str, Any], Any], Mapping[str, Any]]


class LambdaContext:
    """The part of Lambda's context object the functions here use."""

    def __init__(self, remaining_ms: int = 900_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@dataclass
class SqsEventSource:
    sqs: Any
    queue_url: str
    queue_arn: str
    handler: Handler
    batch_size: int = 10
    region: str = "us-east-1"
    context: LambdaContext = field(default_factory=LambdaContext)
    #: Every invocation: (the messages' bodies, the handler's response).
    invocations: list[tuple[list[str], Mapping[str, Any]]] = field(default_factory=list)

    def poll_once(self) -> int:
        """One receive and, when it brought messages, one invocation; returns how many messages were handed over."""
        received = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not received:
            return 0
        event = {
            "Records": [
                {
                    "messageId": message["MessageId"],
                    "receiptHandle": message["ReceiptHandle"],
                    "body": message["Body"],
                    "attributes": message.get("Attributes", {}),
                    "messageAttributes": message.get("MessageAttributes", {}),
                    "md5OfBody": message.get("MD5OfBody", ""),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.queue_arn,
                    "awsRegion": self.region,
                }
                for message in received
            ]
        }
        response = self.handler(event, self.context)
        self.invocations.append(([message["Body"] for message in received], response))
        failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        done = [message for message in received if message["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done)],
            )
        return len(received)

    def run_until(self, condition: Callable[[], bool], *, timeout: float = 60.0, idle_sleep: float = 0.2) -> None:
        """Poll and invoke until ``condition()`` holds; fails the test after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"not reached within {timeout} s; last invocations: {self.invocations[-3:]!r}")
            if self.poll_once() == 0:
                time.sleep(idle_sleep)


@dataclass
class EventSources:
    """Several queues feeding one function (each queue its own event source), polled in turn."""

    sources: list[SqsEventSource]

    @property
    def invocations(self) -> list[tuple[list[str], Mapping[str, Any]]]:
        return [invocation for source in self.sources for invocation in source.invocations]

    def poll_once(self) -> int:
        return sum(source.poll_once() for source in self.sources)

    def run_until(self, condition: Callable[[], bool], *, timeout: float = 60.0, idle_sleep: float = 0.2) -> None:
        """Poll and invoke until ``condition()`` holds; fails the test after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"not reached within {timeout} s; last invocations: {self.invocations[-3:]!r}")
            if self.poll_once() == 0:
                time.sleep(idle_sleep)
