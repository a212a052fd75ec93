"""Import on upload: batches that uploaders write into the input bucket become HealthImaging import jobs, at any scale.

Uploaders (modalities, DICOM gateways, DataSync, Storage Gateway, a partner's uploader) write a batch under
``incoming/<batch>/`` and finish it with a marker object (``incoming/<batch>/_READY`` by default); optionally a batch
also starts after a quiet period without new objects. The contract and its rules are :mod:`ahiops.batches`; the
function reuses the import library (:mod:`ahiops.auto_import_steps`): one implementation of the rules, two front ends.

What the component creates (flow control is the account's own machinery: S3, EventBridge, SQS, Lambda):

- an EventBridge rule on the input bucket's ``Object Created`` events under ``incoming/`` (the markers only, unless a
  quiet period is set), targeting
- an SQS queue (encrypted with the component's customer managed key, TLS only, EventBridge may send for this rule
  only) with a dead-letter queue and a redrive policy, and a second queue on which batches whose jobs run are
  followed (its copies of the function only poll, so a copy waiting for a place in the job quota never holds up a
  result);
- the function (``healthimaging_functions/auto_import``, Python 3.12, packaged with the ``ahiops`` modules it
  imports), fed by the queue in batches with bounded concurrency (reserved concurrency, and the event source's maximum concurrency), with
  ``ReportBatchItemFailures``: a batch that waits (the job quota is full, starts are throttled, its jobs run) goes
  back on the queue with a delay and is never dropped; a message that keeps failing moves to the dead-letter queue
  (with an alert);
- its role (least privilege: :func:`components.auto_import_policies.function_permission_policy`), its log group
  (retention, the component's key), and its environment (names and numbers only, no secret; encrypted with the key).

The input bucket must send its events to EventBridge: ``ImagingBucketPair(input_eventbridge_notifications=True)``
(the program turns it on with this component). Alerts go to ``alert_topic_arn`` when given, for example the topic of
:class:`~components.import_alerts.ImportJobAlerts`.
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NotRequired, Optional, TypedDict

import pulumi
import pulumi_aws as aws

from ahiops import batches, limits

from . import auto_import_policies, validation
from ._arguments import shown_as, with_defaults
from ._documents import json_when_known
from ._resource_options import PACKAGE, remember_caller_options
from .lambda_package import FUNCTIONS_DIR
from .policies import PolicyDocument
from .python_function import (
    FunctionCode,
    FunctionNames,
    FunctionSetup,
    PythonFunction,
    encrypted_queue,
    function_key,
    function_setup,
    function_setup_warnings,
    python_function,
)
from .validation import logs

# The function's own variable names.
from healthimaging_functions.auto_import import config as function_config  # isort: skip

#: The function's code: a package of this repository (archived with the ``ahiops`` modules it imports).
FUNCTION_PACKAGE = FUNCTIONS_DIR / "auto_import"
#: Lambda's longest timeout: one invocation checks (ranged reads) and copies up to a batch's worth of objects.
FUNCTION_TIMEOUT_SECONDS = 900
FUNCTION_CODE = FunctionCode(
    package=FUNCTION_PACKAGE,
    handler="auto_import.handler.handle",
    description="Turns batches written under incoming/ in the HealthImaging input bucket into import jobs",
    role_description="Assumed by the HealthImaging auto-import function only",
    # Memory also buys network and CPU in Lambda: the checks and copies run 16 at a time.
    memory_mb=1024,
    timeout_seconds=FUNCTION_TIMEOUT_SECONDS,
)
#: Messages per invocation, and how long Lambda gathers them.
QUEUE_BATCH_SIZE = 10
QUEUE_BATCHING_WINDOW_SECONDS = 5
#: AWS recommends a queue visibility timeout of six times the function's timeout for Lambda event sources.
QUEUE_VISIBILITY_TIMEOUT_SECONDS = 6 * FUNCTION_TIMEOUT_SECONDS
#: How long, and how often, EventBridge retries delivering an event to the queue before it goes to the dead letters.
EVENT_MAX_AGE_SECONDS = 24 * 3600
EVENT_RETRY_ATTEMPTS = 185
#: Name of the inline permission policy on the function's role.
PERMISSION_POLICY_NAME = "AutoImportFunction"
#: The quiet period's longest value (a day, in minutes).
MAX_QUIET_PERIOD_MINUTES = 24 * 60
#: Most copies of the function at once: starts are paced to one per second across all of them.
MAX_CONCURRENCY = 10

_TOPIC_ARN = re.compile(r"arn:aws:sns:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):(?P<name>[A-Za-z0-9_.-]{1,256})")

#: Default of every optional argument of :class:`AutoImport` (the one place each default lives).
AUTO_IMPORT_DEFAULTS: dict[str, Any] = {
    "marker_name": batches.DEFAULT_MARKER_NAME,
    "quiet_period_minutes": 0,
    "max_files_per_job": limits.MAX_FILES_PER_JOB,
    "max_objects_per_batch": batches.DEFAULT_MAX_OBJECTS_PER_BATCH,
    "max_concurrent_jobs": 0,
    "concurrency": 2,
    "max_receive_count": 5,
    "log_retention_days": 365,
    "path": "/",
    "protect_data": True,
}


class AutoImportArgs(TypedDict):
    """Arguments of :class:`AutoImport`."""

    account_id: str
    """The 12-digit AWS account of the buckets and the data store (ARNs, policy conditions, the buckets' owner)."""
    region: str
    """The region of the buckets and the data store."""
    name_prefix: str
    """Prefix of every name the component gives (function, role, queues, rule, log group, key alias), for example
    ``ahi-dev``."""
    datastore_id: pulumi.Input[str]
    """ID of the data store the batches are imported into."""
    datastore_arn: pulumi.Input[str]
    """ARN of that data store (the only one the function may start and read jobs on)."""
    import_role_arn: pulumi.Input[str]
    """ARN of the role HealthImaging assumes for the jobs (the only role the function may pass)."""
    input_bucket_name: pulumi.Input[str]
    """Name of the bucket uploaders write batches into; it must send its events to EventBridge."""
    input_bucket_arn: pulumi.Input[str]
    """ARN of the input bucket."""
    output_bucket_name: pulumi.Input[str]
    """Name of the bucket the jobs write their results to (under ``auto-imports/``)."""
    output_bucket_arn: pulumi.Input[str]
    """ARN of the output bucket."""
    bucket_kms_key_arn: NotRequired[pulumi.Input[Optional[str]]]
    """Default: none (SSE-S3). The buckets' customer managed key: the function uses it through S3 only."""
    alert_topic_arn: NotRequired[pulumi.Input[Optional[str]]]
    """Default: none: outcomes are written to ``_RESULT.json`` only. An SNS topic (for example ImportJobAlerts') that
    is told when a batch is not fully imported, and when a message goes to the dead-letter queue."""
    alert_topic_kms_key_arn: NotRequired[pulumi.Input[Optional[str]]]
    """Default: none. The alert topic's customer managed key: the function may use it through SNS only."""
    marker_name: NotRequired[str]
    """Default: ``_READY``. Name of the object that finishes a batch (``incoming/<batch>/<marker_name>``)."""
    quiet_period_minutes: NotRequired[int]
    """Default: 0: only markers start batches. Minutes without a new object under ``incoming/<batch>/`` after which
    the batch starts without a marker (1 to 1,440; every new object under ``incoming/`` then reaches the queue)."""
    max_files_per_job: NotRequired[int]
    """Default: 5000. Files per import job: HealthImaging's quota, unless it was raised for the account."""
    max_objects_per_batch: NotRequired[int]
    """Default: 20000. Objects one batch may hold; a larger batch is refused with a result that says to split it (one
    invocation checks and copies a whole batch)."""
    max_concurrent_jobs: NotRequired[int]
    """Default: 0: the data store's default quota in the region (100; 20 in ap-southeast-2). Import jobs the function
    keeps running at once, counting every running job of the data store: set the raised quota, or less to leave room
    for other importers."""
    concurrency: NotRequired[int]
    """Default: 2. Copies of the function at once for new batches (2 to 10), and as many again for batches whose jobs
    run (each queue's event source; the function's reserved concurrency is twice this). Starts are paced to one per
    second across all of them (StartDICOMImportJob's rate)."""
    max_receive_count: NotRequired[int]
    """Default: 5. Times a failing message is handed to the function before it moves to the dead-letter queue (2 to
    100). Waiting batches do not count: they come back as new messages."""
    log_retention_days: NotRequired[int]
    """Default: 365. Days the function's log group keeps its logs (a value CloudWatch Logs accepts)."""
    path: NotRequired[str]
    """Default: ``/``. IAM path of the function's role."""
    permissions_boundary_arn: NotRequired[str]
    """Default: none. Managed policy ARN set as the permissions boundary of the function's role."""
    protect_data: NotRequired[bool]
    """Default: True. ``protect`` and ``retain_on_delete`` on the component's key (it encrypts the queues, whose
    messages name batches of medical images, and the logs)."""
    tags: NotRequired[Mapping[str, str]]
    """Default: none. Tags of every resource of the component."""


@dataclass(frozen=True)
class AutoImportNames(FunctionNames):
    """The AWS names of the component's resources, from the name prefix."""

    @property
    def function(self) -> str:
        return f"{self.prefix}-auto-import"

    @property
    def role(self) -> str:
        return f"{self.prefix}-AutoImportFunction"

    @property
    def queue(self) -> str:
        return f"{self.prefix}-auto-import"

    @property
    def follow_queue(self) -> str:
        return f"{self.prefix}-auto-import-follow"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.prefix}-auto-import-dlq"

    @property
    def rule(self) -> str:
        return f"{self.prefix}-auto-import-objects"

    @property
    def key_alias(self) -> str:
        return f"{self.prefix}-auto-import"


def validate_auto_import_args(args: Mapping[str, Any], names: Mapping[str, str] | None = None) -> list[str]:
    """Every problem with the plain-valued arguments (empty when valid).

    ``names`` maps argument names to the names a person set (stack configuration keys).
    """

    n = shown_as(names)
    value = with_defaults(args, AUTO_IMPORT_DEFAULTS)

    problems: list[str] = []
    problems += validation.placement_problems(args, names)
    problems += batches.marker_name_problems(n("marker_name"), value("marker_name"))
    problems += validation.whole_number_problems(
        n("quiet_period_minutes"), value("quiet_period_minutes"), 0, MAX_QUIET_PERIOD_MINUTES
    )
    problems += validation.whole_number_problems(
        n("max_files_per_job"), value("max_files_per_job"), 1, limits.MAX_FILES_PER_JOB * 100
    )
    problems += validation.whole_number_problems(n("max_objects_per_batch"), value("max_objects_per_batch"), 1, 100_000)
    problems += validation.whole_number_problems(n("max_concurrent_jobs"), value("max_concurrent_jobs"), 0, 10_000)
    problems += validation.whole_number_problems(n("concurrency"), value("concurrency"), 2, MAX_CONCURRENCY)
    problems += validation.whole_number_problems(n("max_receive_count"), value("max_receive_count"), 2, 100)
    problems += logs.log_retention_problems(n("log_retention_days"), value("log_retention_days"))
    topic, topic_key = args.get("alert_topic_arn"), args.get("alert_topic_kms_key_arn")
    if isinstance(topic, str) and topic:
        problems += alert_topic_arn_problems(n("alert_topic_arn"), topic, args.get("region"), args.get("account_id"))
    if isinstance(topic_key, str) and topic_key and not problems:
        problems += validation.kms_key_arn_problems(
            n("alert_topic_kms_key_arn"), topic_key, region=args["region"], account_id=args["account_id"]
        )
    problems += validation.iam_settings_problems(args, value("path"), names)
    return problems


def alert_topic_arn_problems(setting: str, arn: str, region: Any, account_id: Any) -> list[str]:
    """A standard (not FIFO) SNS topic of the stack's account and region."""
    match = _TOPIC_ARN.fullmatch(arn)
    if match is None or match["name"].endswith(".fifo"):
        return [
            f"{setting} = {arn!r} is not the ARN of a standard SNS topic, for example "
            f"'arn:aws:sns:{region}:{account_id}:imaging-alerts'."
        ]
    if (match["region"], match["account"]) != (region, account_id):
        return [
            f"{setting} = {arn!r} is a topic of account {match['account']} in {match['region']}; the function publishes "
            f"to a topic of this stack's account {account_id} in {region}."
        ]
    return []


def auto_import_warnings(args: AutoImportArgs) -> list[str]:
    """One warning per default that the arguments switch off or weaken."""
    warnings: list[str] = []
    if args.get("alert_topic_arn") is None:
        warnings.append(
            "AutoImport has no alert topic: a batch that is not fully imported is reported only in its _RESULT.json, "
            "and nobody is told. Turn on importAlerts (or set autoImportAlertTopicArn)."
        )
    return warnings + function_setup_warnings(
        args, AUTO_IMPORT_DEFAULTS, function="The auto-import function", key="the auto-import key"
    )


def max_concurrent_jobs(region: str, configured: int) -> int:
    """The jobs the function keeps running at once: ``configured``, or the region's default quota when 0."""
    return configured or limits.max_concurrent_jobs(region)


def function_environment(
    args: AutoImportArgs, *, queue_url: str, follow_queue_url: str, values: Mapping[str, Any]
) -> dict[str, str]:
    """The function's environment variables (:mod:`healthimaging_functions.auto_import.config`): names and
    numbers, no secret. ``values`` holds the resolved ARNs and names."""

    value = with_defaults(args, AUTO_IMPORT_DEFAULTS)

    def number(arg: str) -> int:
        return validation.as_whole_number(value(arg))

    concurrency = number("concurrency")
    environment = {
        function_config.INPUT_BUCKET: str(values["input_bucket_name"]),
        function_config.OUTPUT_BUCKET: str(values["output_bucket_name"]),
        function_config.ACCOUNT_ID: args["account_id"],
        function_config.DATASTORE_ID: str(values["datastore_id"]),
        function_config.IMPORT_ROLE_ARN: str(values["import_role_arn"]),
        function_config.QUEUE_URL: queue_url,
        function_config.FOLLOW_QUEUE_URL: follow_queue_url,
        function_config.MARKER_NAME: str(value("marker_name")),
        function_config.QUIET_PERIOD_SECONDS: str(60 * number("quiet_period_minutes")),
        function_config.MAX_FILES_PER_JOB: str(number("max_files_per_job")),
        function_config.MAX_OBJECTS_PER_BATCH: str(number("max_objects_per_batch")),
        function_config.MAX_CONCURRENT_JOBS: str(max_concurrent_jobs(args["region"], number("max_concurrent_jobs"))),
        # Each copy starts at most one job per `concurrency` seconds: together, one per second.
        function_config.START_INTERVAL_SECONDS: str(float(concurrency)),
        function_config.MAX_RECEIVE_COUNT: str(number("max_receive_count")),
    }
    if values.get("alert_topic_arn"):
        environment[function_config.ALERT_TOPIC_ARN] = str(values["alert_topic_arn"])
    return environment


class AutoImport(pulumi.ComponentResource):
    """Batches written into the input bucket become import jobs: S3 events through EventBridge and an encrypted
    SQS queue (with a dead-letter queue) to a function with bounded concurrency (see the module docstring)."""

    queue_url: pulumi.Output[str]
    """URL of the queue of batch events (and of batches waiting to go on)."""
    dead_letter_queue_url: pulumi.Output[str]
    """URL of the queue that keeps the messages the function could not handle."""
    function_name: pulumi.Output[str]
    """Name of the function (its logs are in ``/aws/lambda/<name>``)."""
    kms_key_arn: pulumi.Output[str]
    """ARN of the key that encrypts the queues, the logs and the function's environment."""

    def __init__(self, name: str, args: AutoImportArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        validation.raise_if_problems(f"AutoImport {name!r}", validate_auto_import_args(args))
        super().__init__(f"{PACKAGE}:index:AutoImport", name, None, opts)
        remember_caller_options(self, opts)
        for warning in auto_import_warnings(args):
            pulumi.log.warn(warning, resource=self)

        setup = function_setup(self, name, args, AUTO_IMPORT_DEFAULTS, AutoImportNames(args["name_prefix"]))
        key = _create_key(setup)
        dead_letters = _create_dead_letter_queue(setup, key)
        queue, follow_queue = _create_batch_queues(setup, key, dead_letters)
        _send_new_objects_to_queue(setup, args, queue=queue, dead_letters=dead_letters)
        built = _create_function(setup, args, key=key, queue=queue, follow_queue=follow_queue)
        _feed_function_from_queues(setup, built, queue=queue, follow_queue=follow_queue)

        self.queue_url = queue.url
        self.dead_letter_queue_url = dead_letters.url
        self.function_name = built.function.name
        self.kms_key_arn = key.arn
        self.register_outputs(
            {
                "queue_url": self.queue_url,
                "dead_letter_queue_url": self.dead_letter_queue_url,
                "function_name": self.function_name,
                "kms_key_arn": self.kms_key_arn,
            }
        )


_Setup = FunctionSetup[AutoImportNames]


def _queue_arn(setup: _Setup, queue_name: str) -> str:
    return auto_import_policies.queue_arn(setup.region, setup.account_id, queue_name)


def _rule_arn(setup: _Setup) -> str:
    return auto_import_policies.event_rule_arn(setup.region, setup.account_id, setup.names.rule)


def _concurrency(setup: _Setup) -> int:
    """Copies of the function at once for new batches (and as many again for batches whose jobs run)."""
    return validation.as_whole_number(setup.value("concurrency"))


def _create_key(setup: _Setup) -> aws.kms.Key:
    """The key of the queues, the log group and the function's environment."""
    names = setup.names
    return function_key(
        setup,
        description=f"Encrypts the HealthImaging auto-import queues, logs and function settings of {names.prefix}",
        policy=auto_import_policies.importer_key_policy(
            setup.account_id,
            setup.region,
            [_queue_arn(setup, names.queue), _queue_arn(setup, names.dead_letter_queue)],
            setup.log_group_arn,
        ),
    )


def _create_dead_letter_queue(setup: _Setup, key: aws.kms.Key) -> aws.sqs.Queue:
    """The queue of the messages the function could not handle and of the events EventBridge could not deliver; only
    the two batch queues may move their messages back into it."""
    names = setup.names
    source_arns = sorted([_queue_arn(setup, names.queue), _queue_arn(setup, names.follow_queue)])
    return encrypted_queue(
        setup,
        "dlq",
        name=names.dead_letter_queue,
        key_arn=key.arn,
        policy=auto_import_policies.dead_letter_queue_policy(
            _queue_arn(setup, names.dead_letter_queue), _rule_arn(setup), setup.account_id
        ),
        redrive_allow_policy=json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": source_arns}),
    )


def _create_batch_queues(
    setup: _Setup, key: aws.kms.Key, dead_letters: aws.sqs.Queue
) -> tuple[aws.sqs.Queue, aws.sqs.Queue]:
    """New batches (and batches waiting to start) on one queue; batches whose jobs run on the other, whose copies of
    the function only poll: a copy waiting for a place in the job quota never holds up a result. A message that keeps
    failing moves to the dead-letter queue."""
    names = setup.names
    max_receive_count = validation.as_whole_number(setup.value("max_receive_count"))
    redrive_policy = dead_letters.arn.apply(
        lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": max_receive_count})
    )
    queue = encrypted_queue(
        setup,
        "queue",
        name=names.queue,
        key_arn=key.arn,
        policy=auto_import_policies.queue_policy(_queue_arn(setup, names.queue), _rule_arn(setup), setup.account_id),
        visibility_timeout_seconds=QUEUE_VISIBILITY_TIMEOUT_SECONDS,
        redrive_policy=redrive_policy,
    )
    follow_queue = encrypted_queue(
        setup,
        "follow-queue",
        name=names.follow_queue,
        key_arn=key.arn,
        policy=auto_import_policies.follow_queue_policy(_queue_arn(setup, names.follow_queue)),
        visibility_timeout_seconds=QUEUE_VISIBILITY_TIMEOUT_SECONDS,
        redrive_policy=redrive_policy,
    )
    return queue, follow_queue


def _send_new_objects_to_queue(
    setup: _Setup, args: AutoImportArgs, *, queue: aws.sqs.Queue, dead_letters: aws.sqs.Queue
) -> None:
    """The EventBridge rule on the input bucket's new objects under ``incoming/`` (the markers, or every object with a
    quiet period) and its target, the queue (events it cannot deliver go to the dead-letter queue)."""
    quiet = validation.as_whole_number(setup.value("quiet_period_minutes")) > 0
    rule = aws.cloudwatch.EventRule(
        f"{setup.name}-objects",
        name=setup.names.rule,
        description="New objects under incoming/ in the HealthImaging input bucket (batch markers"
        + (" and every object: a quiet period may start a batch)" if quiet else ")"),
        event_pattern=json_when_known(
            auto_import_policies.object_created_pattern,
            bucket_name=args["input_bucket_name"],
            marker_name=str(setup.value("marker_name")),
            every_object=quiet,
        ),
        tags=setup.tags,
        opts=setup.options(),
    )
    aws.cloudwatch.EventTarget(
        f"{setup.name}-objects-to-queue",
        rule=rule.name,
        arn=queue.arn,
        retry_policy={
            "maximum_event_age_in_seconds": EVENT_MAX_AGE_SECONDS,
            "maximum_retry_attempts": EVENT_RETRY_ATTEMPTS,
        },
        dead_letter_config={"arn": dead_letters.arn},
        opts=setup.options(),
    )


def _create_function(
    setup: _Setup, args: AutoImportArgs, *, key: aws.kms.Key, queue: aws.sqs.Queue, follow_queue: aws.sqs.Queue
) -> PythonFunction:
    """The function with its role, its permissions, its log group and its environment."""
    names = setup.names
    permission_policy = json_when_known(
        _function_permission_policy,
        account_id=setup.account_id,
        region=setup.region,
        datastore_arn=args["datastore_arn"],
        import_role_arn=args["import_role_arn"],
        input_bucket_arn=args["input_bucket_arn"],
        output_bucket_arn=args["output_bucket_arn"],
        bucket_key_arn=args.get("bucket_kms_key_arn"),
        queue_arns=[_queue_arn(setup, names.queue), _queue_arn(setup, names.follow_queue)],
        importer_key_arn=key.arn,
        log_group_arn=setup.log_group_arn,
        alert_topic_arn=args.get("alert_topic_arn"),
        alert_key_arn=args.get("alert_topic_kms_key_arn"),
    )
    environment = pulumi.Output.all(
        queue_url=queue.url,
        follow_queue_url=follow_queue.url,
        input_bucket_name=args["input_bucket_name"],
        output_bucket_name=args["output_bucket_name"],
        datastore_id=args["datastore_id"],
        import_role_arn=args["import_role_arn"],
        alert_topic_arn=args.get("alert_topic_arn"),
    ).apply(
        lambda values: function_environment(
            args, queue_url=values["queue_url"], follow_queue_url=values["follow_queue_url"], values=values
        )
    )
    return python_function(
        setup,
        code=FUNCTION_CODE,
        permission_policy_name=PERMISSION_POLICY_NAME,
        permission_policy=permission_policy,
        key_arn=key.arn,
        # `concurrency` copies for new batches, as many again for following running jobs.
        reserved_concurrency=2 * _concurrency(setup),
        environment=environment,
    )


def _function_permission_policy(bucket_key_arn: str | None, **arns: Any) -> PolicyDocument:
    """:func:`components.auto_import_policies.function_permission_policy` with the buckets' one key, if any."""
    return auto_import_policies.function_permission_policy(
        bucket_key_arns=[bucket_key_arn] if bucket_key_arn else [], **arns
    )


def _feed_function_from_queues(
    setup: _Setup, built: PythonFunction, *, queue: aws.sqs.Queue, follow_queue: aws.sqs.Queue
) -> None:
    """Both queues feed the function, in batches, each with at most ``concurrency`` copies at once; a message the
    function reports as failed (or waiting) goes back on its queue."""
    for label, source in (("queue", queue), ("follow-queue", follow_queue)):
        aws.lambda_.EventSourceMapping(
            f"{setup.name}-{label}-to-function",
            event_source_arn=source.arn,
            function_name=built.function.arn,
            batch_size=QUEUE_BATCH_SIZE,
            maximum_batching_window_in_seconds=QUEUE_BATCHING_WINDOW_SECONDS,
            function_response_types=["ReportBatchItemFailures"],
            scaling_config={"maximum_concurrency": _concurrency(setup)},
            opts=setup.options(depends_on=[built.permissions]),
        )
