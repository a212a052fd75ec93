"""Alerts when a HealthImaging import job fails or partly fails, for one data store.

A COMPLETED import job can hide failed files, and HealthImaging's events carry no counts and no error message and
are delivered best effort. This component watches the data store's import jobs and publishes an alert to an SNS topic
for every job that FAILED or COMPLETED with files not imported (the function in
``healthimaging_functions/import_alerts``):

- an EventBridge rule on the data store's ``Import Job Completed`` / ``Import Job Failed`` events invokes the function,
  which reads the job's manifest (:mod:`ahiops.manifest`) and alerts when any file failed;
- a schedule (hourly by default) invokes the same function to sweep the data store's recently ended jobs
  (ListDICOMImportJobs), so a lost event still gets its alert; a DynamoDB table (with TTL) remembers which jobs were
  checked, so a job is reported once however many times it is seen;
- the topic, the dead-letter queue, the table, the log group and the function's environment are encrypted with the
  component's customer managed key; the function has its own least-privilege role
  (:func:`components.alert_policies.function_permission_policy`), a dead-letter queue, reserved concurrency and a log
  group with retention;
- two CloudWatch alarms (the function's errors, messages in the dead-letter queue) publish to the same topic, so a
  broken alert path is itself reported;
- e-mail and HTTPS subscriptions from the arguments (e-mail addresses must confirm the subscription).
"""

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NotRequired, Optional, TypedDict

import pulumi
import pulumi_aws as aws

from . import alert_policies, function_policies, validation
from ._arguments import shown_as, with_defaults
from ._documents import json_when_known
from ._resource_options import PACKAGE, remember_caller_options
from .lambda_package import FUNCTIONS_DIR
from .python_function import (
    FunctionCode,
    FunctionNames,
    FunctionSetup,
    encrypted_queue,
    function_key,
    function_setup,
    function_setup_warnings,
    python_function,
)
from .validation import logs, notifications

# The function's own names: its environment variables and its table's key and TTL attribute.
from healthimaging_functions.import_alerts import config as function_config  # isort: skip
from .function_constants import import_alerts_reported as function_table  # isort: skip

#: The function's code: a package of this repository (archived with the ``ahiops`` modules it imports).
FUNCTION_PACKAGE = FUNCTIONS_DIR / "import_alerts"
FUNCTION_CODE = FunctionCode(
    package=FUNCTION_PACKAGE,
    handler="import_alerts.handler.handle",
    description="Alerts when a HealthImaging import job fails or completes with files not imported",
    role_description="Assumed by the HealthImaging import alerts function only",
    memory_mb=256,
    # Seconds one invocation may run: reading a manifest that appears late is retried for up to ~15 s per job.
    timeout_seconds=300,
)
#: How often Lambda retries a failed event before it goes to the dead-letter queue, and how old an event may get.
ASYNC_RETRY_ATTEMPTS = 2
MAX_EVENT_AGE_SECONDS = 6 * 3600
#: Period of both alarms.
ALARM_PERIOD_SECONDS = 300
#: Name of the inline permission policy on the function's role.
PERMISSION_POLICY_NAME = "ImportAlertsFunction"
#: ListDICOMImportJobs lists a job for 90 days: the sweep cannot look back further.
MAX_SWEEP_LOOKBACK_HOURS = 90 * 24

#: Default of every optional argument of :class:`ImportJobAlerts` (the one place each default lives).
IMPORT_ALERTS_DEFAULTS: dict[str, Any] = {
    "email_addresses": [],
    "https_endpoints": [],
    "sweep_schedule": "rate(1 hour)",
    "sweep_lookback_hours": 24,
    "reported_retention_days": 30,
    "max_failures_listed": 10,
    "reserved_concurrency": 2,
    "log_retention_days": 365,
    "path": "/",
    "protect_data": True,
}


class ImportJobAlertsArgs(TypedDict):
    """Arguments of :class:`ImportJobAlerts`."""

    account_id: str
    """The 12-digit AWS account of the data store (ARNs and policy conditions)."""
    region: str
    """The region of the data store."""
    name_prefix: str
    """Prefix of every name the component gives (function, role, topic, queue, table, rules, alarms, key alias),
    for example ``ahi-dev``."""
    datastore_id: pulumi.Input[str]
    """ID of the data store whose import jobs are watched."""
    datastore_arn: pulumi.Input[str]
    """ARN of that data store (the event rule matches it in the events' ``resources``)."""
    output_bucket_arn: pulumi.Input[str]
    """ARN of the bucket the import jobs write their results to (the function reads the manifests there)."""
    output_kms_key_arn: NotRequired[pulumi.Input[Optional[str]]]
    """Default: none. The output bucket's KMS key: the function may decrypt with it through S3."""
    email_addresses: NotRequired[Sequence[str]]
    """Default: ``[]``. E-mail addresses subscribed to the alerts (each confirms by a link SNS sends)."""
    https_endpoints: NotRequired[Sequence[str]]
    """Default: ``[]``. HTTPS URLs subscribed to the alerts; each receives the alert's JSON document (SNS sends a
    subscription confirmation first). No user name or password in the URL."""
    sweep_schedule: NotRequired[str]
    """Default: ``rate(1 hour)``. EventBridge schedule of the sweep of recent jobs."""
    sweep_lookback_hours: NotRequired[int]
    """Default: 24. The sweep checks the jobs that ended in this many hours (at least two sweep intervals, at most
    2,160: HealthImaging lists jobs for 90 days)."""
    reported_retention_days: NotRequired[int]
    """Default: 30. Days a checked job is remembered (table TTL); longer than the sweep looks back."""
    max_failures_listed: NotRequired[int]
    """Default: 10. Failed files an alert lists with their reasons (0 to 50; the failure file holds them all)."""
    reserved_concurrency: NotRequired[int]
    """Default: 2. Reserved concurrency of the function: it can never run more often at once, nor starve the
    account's other functions (1 to 20)."""
    log_retention_days: NotRequired[int]
    """Default: 365. Days the function's log group keeps its logs (a value CloudWatch Logs accepts)."""
    path: NotRequired[str]
    """Default: ``/``. IAM path of the function's role."""
    permissions_boundary_arn: NotRequired[str]
    """Default: none. Managed policy ARN set as the permissions boundary of the function's role."""
    protect_data: NotRequired[bool]
    """Default: True. ``protect`` and ``retain_on_delete`` on the component's KMS key (it encrypts the alerts' queue,
    table and logs)."""
    tags: NotRequired[Mapping[str, str]]
    """Default: none. Tags of every resource of the component."""


@dataclass(frozen=True)
class AlertNames(FunctionNames):
    """The AWS names of the component's resources, from the name prefix."""

    @property
    def function(self) -> str:
        return f"{self.prefix}-import-alerts"

    @property
    def role(self) -> str:
        return f"{self.prefix}-ImportAlertsFunction"

    @property
    def topic(self) -> str:
        return f"{self.prefix}-import-alerts"

    @property
    def queue(self) -> str:
        return f"{self.prefix}-import-alerts-dlq"

    @property
    def table(self) -> str:
        return f"{self.prefix}-import-alerts-reported-jobs"

    @property
    def event_rule(self) -> str:
        return f"{self.prefix}-import-job-ended"

    @property
    def sweep_rule(self) -> str:
        return f"{self.prefix}-import-jobs-sweep"

    @property
    def errors_alarm(self) -> str:
        return f"{self.prefix}-import-alerts-function-errors"

    @property
    def dead_letter_alarm(self) -> str:
        return f"{self.prefix}-import-alerts-dead-letters"

    @property
    def key_alias(self) -> str:
        return f"{self.prefix}-import-alerts"


def validate_import_alerts_args(args: Mapping[str, Any], names: Mapping[str, str] | None = None) -> list[str]:
    """Every problem with the plain-valued arguments (empty when valid).

    ``names`` maps argument names to the names a person set (stack configuration keys).
    """

    n = shown_as(names)
    value = with_defaults(args, IMPORT_ALERTS_DEFAULTS)

    problems: list[str] = []
    problems += validation.placement_problems(args, names)
    problems += notifications.email_addresses_problems(n("email_addresses"), value("email_addresses"))
    problems += notifications.https_endpoints_problems(n("https_endpoints"), value("https_endpoints"))
    problems += notifications.schedule_expression_problems(n("sweep_schedule"), value("sweep_schedule"))
    lookback_problems = validation.whole_number_problems(
        n("sweep_lookback_hours"), value("sweep_lookback_hours"), 1, MAX_SWEEP_LOOKBACK_HOURS
    )
    problems += lookback_problems
    retention_problems = validation.positive_days_problems(
        n("reported_retention_days"), value("reported_retention_days"), maximum=3650
    )
    problems += retention_problems
    problems += validation.whole_number_problems(n("max_failures_listed"), value("max_failures_listed"), 0, 50)
    problems += validation.whole_number_problems(n("reserved_concurrency"), value("reserved_concurrency"), 1, 20)
    problems += logs.log_retention_problems(n("log_retention_days"), value("log_retention_days"))
    lookback = validation.whole_number(value("sweep_lookback_hours"))
    retention = validation.whole_number(value("reported_retention_days"))
    if lookback and retention and not lookback_problems and not retention_problems and retention * 24 <= lookback:
        problems.append(
            f"{n('reported_retention_days')} = {retention} days does not outlast {n('sweep_lookback_hours')} = "
            f"{lookback} hours: a job forgotten while the sweep still looks at it would be alerted on again. Keep the "
            "jobs longer than the sweep looks back."
        )
    interval = notifications.schedule_minutes(value("sweep_schedule"))
    if not lookback_problems and interval is not None and lookback is not None and lookback * 60 < 2 * interval:
        problems.append(
            f"{n('sweep_lookback_hours')} = {lookback} covers less than two runs of {n('sweep_schedule')} = "
            f"{value('sweep_schedule')!r}: a job whose event was lost could end between two sweeps unseen. Look back "
            "at least two intervals."
        )
    problems += validation.iam_settings_problems(args, value("path"), names)
    return problems


def import_alerts_warnings(args: ImportJobAlertsArgs) -> list[str]:
    """One warning per default that the arguments switch off or weaken."""
    warnings: list[str] = []
    if not args.get("email_addresses") and not args.get("https_endpoints"):
        warnings.append(
            "Import job alerts have no e-mail or HTTPS subscriber: alerts reach the SNS topic but nobody is told. "
            "Subscribe someone (importAlertEmails, importAlertHttpsEndpoints) or subscribe to the topic elsewhere."
        )
    return warnings + function_setup_warnings(
        args, IMPORT_ALERTS_DEFAULTS, function="The alerts function", key="the import alerts' key"
    )


def import_alerts_off_warning() -> str:
    """What a stack that does not create the component tells its user."""
    return (
        "Import job alerts are OFF (importAlerts = false): nobody is told when an import job fails or COMPLETES with "
        "files not imported. Check every job with `python -m ahictl jobs`."
    )


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


class ImportJobAlerts(pulumi.ComponentResource):
    """Alerts (SNS) when an import job of one data store fails or partly fails: an EventBridge rule and an hourly sweep
    invoke a function that reads the job's manifest; alarms report a broken alert path (see the module docstring)."""

    topic_arn: pulumi.Output[str]
    """ARN of the SNS topic the alerts and the alarms publish to (subscribe more endpoints to it)."""
    function_name: pulumi.Output[str]
    """Name of the function that checks the jobs (its logs are in ``/aws/lambda/<name>``)."""
    dead_letter_queue_url: pulumi.Output[str]
    """URL of the queue that keeps the events the function could not handle."""
    kms_key_arn: pulumi.Output[str]
    """ARN of the key that encrypts the topic, the queue, the table, the logs and the function's environment."""

    def __init__(self, name: str, args: ImportJobAlertsArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        validation.raise_if_problems(f"ImportJobAlerts {name!r}", validate_import_alerts_args(args))
        super().__init__(f"{PACKAGE}:index:ImportJobAlerts", name, None, opts)
        remember_caller_options(self, opts)
        for warning in import_alerts_warnings(args):
            pulumi.log.warn(warning, resource=self)

        setup = function_setup(self, name, args, IMPORT_ALERTS_DEFAULTS, AlertNames(args["name_prefix"]))
        key = _create_key(setup)
        topic = _create_topic(setup, key)
        _subscribe_endpoints(setup, topic)
        dead_letters = _create_dead_letter_queue(setup, key)
        table = _create_reported_jobs_table(setup, key)
        function = _create_function(setup, args, key=key, topic=topic, dead_letters=dead_letters, table=table)
        _invoke_on_ended_jobs_and_sweeps(setup, args, function)
        _create_alarms(setup, function=function, dead_letters=dead_letters, topic=topic)

        self.topic_arn = topic.arn
        self.function_name = function.name
        self.dead_letter_queue_url = dead_letters.url
        self.kms_key_arn = key.arn
        self.register_outputs(
            {
                "topic_arn": self.topic_arn,
                "function_name": self.function_name,
                "dead_letter_queue_url": self.dead_letter_queue_url,
                "kms_key_arn": self.kms_key_arn,
            }
        )


_Setup = FunctionSetup[AlertNames]


def _create_key(setup: _Setup) -> aws.kms.Key:
    """The key of the topic, the dead-letter queue, the table, the log group and the function's environment."""
    return function_key(
        setup,
        description=f"Encrypts the HealthImaging import job alerts of {setup.names.prefix} (topic, queue, table, logs)",
        policy=alert_policies.alerts_key_policy(setup.account_id, setup.region, setup.log_group_arn),
    )


def _create_topic(setup: _Setup, key: aws.kms.Key) -> aws.sns.Topic:
    """The alerts' topic, and its policy: this stack's two alarms may publish to it, nobody without TLS."""
    names = setup.names
    topic = aws.sns.Topic(
        f"{setup.name}-topic",
        name=names.topic,
        display_name="HealthImaging import alerts",
        kms_master_key_id=key.arn,
        tags=setup.tags,
        opts=setup.options(),
    )
    aws.sns.TopicPolicy(
        f"{setup.name}-topic-policy",
        arn=topic.arn,
        policy=json_when_known(
            alert_policies.alerts_topic_policy,
            topic_arn=topic.arn,
            account_id=setup.account_id,
            alarm_arns=[
                alert_policies.alarm_arn(setup.region, setup.account_id, alarm)
                for alarm in (names.errors_alarm, names.dead_letter_alarm)
            ],
        ),
        opts=setup.options(),
    )
    return topic


def _subscribe_endpoints(setup: _Setup, topic: aws.sns.Topic) -> None:
    """One subscription per e-mail address and HTTPS endpoint of the arguments."""
    for protocol, endpoints in (("email", setup.value("email_addresses")), ("https", setup.value("https_endpoints"))):
        for endpoint in endpoints:
            aws.sns.TopicSubscription(
                f"{setup.name}-{protocol}-{_short_hash(endpoint)}",
                topic=topic.arn,
                protocol=protocol,
                endpoint=endpoint,
                opts=setup.options(),
            )


def _create_dead_letter_queue(setup: _Setup, key: aws.kms.Key) -> aws.sqs.Queue:
    """The queue that keeps the events the function could not handle."""
    return encrypted_queue(
        setup, "dlq", name=setup.names.queue, key_arn=key.arn, policy=function_policies.tls_only_queue_policy
    )


def _create_reported_jobs_table(setup: _Setup, key: aws.kms.Key) -> aws.dynamodb.Table:
    """The table of jobs already checked (with a TTL), so that a job is reported once however often it is seen."""
    return aws.dynamodb.Table(
        f"{setup.name}-reported-jobs",
        name=setup.names.table,
        billing_mode="PAY_PER_REQUEST",
        hash_key=function_table.KEY,
        attributes=[{"name": function_table.KEY, "type": "S"}],
        ttl={"attribute_name": function_table.TTL_ATTRIBUTE, "enabled": True},
        point_in_time_recovery={"enabled": True},
        server_side_encryption={"enabled": True, "kms_key_arn": key.arn},
        tags=setup.tags,
        opts=setup.options(),
    )


def _create_function(
    setup: _Setup,
    args: ImportJobAlertsArgs,
    *,
    key: aws.kms.Key,
    topic: aws.sns.Topic,
    dead_letters: aws.sqs.Queue,
    table: aws.dynamodb.Table,
) -> aws.lambda_.Function:
    """The function with its role, its permissions and its log group, and how often Lambda retries an event."""
    permission_policy = json_when_known(
        alert_policies.function_permission_policy,
        account_id=setup.account_id,
        region=setup.region,
        datastore_arn=args["datastore_arn"],
        datastore_id=args["datastore_id"],
        output_bucket_arn=args["output_bucket_arn"],
        output_key_arn=args.get("output_kms_key_arn"),
        topic_arn=topic.arn,
        table_arn=table.arn,
        queue_arn=dead_letters.arn,
        alerts_key_arn=key.arn,
        log_group_arn_=setup.log_group_arn,
    )
    function = python_function(
        setup,
        code=FUNCTION_CODE,
        permission_policy_name=PERMISSION_POLICY_NAME,
        permission_policy=permission_policy,
        key_arn=key.arn,
        reserved_concurrency=validation.as_whole_number(setup.value("reserved_concurrency")),
        environment=_environment(args, topic.arn, table.name),
        dead_letter_arn=dead_letters.arn,
    ).function
    aws.lambda_.FunctionEventInvokeConfig(
        f"{setup.name}-retries",
        function_name=function.name,
        maximum_retry_attempts=ASYNC_RETRY_ATTEMPTS,
        maximum_event_age_in_seconds=MAX_EVENT_AGE_SECONDS,
        opts=setup.options(),
    )
    return function


def _invoke_on_ended_jobs_and_sweeps(setup: _Setup, args: ImportJobAlertsArgs, function: aws.lambda_.Function) -> None:
    """Two EventBridge rules that invoke the function: the data store's jobs that ended, and the sweep's schedule."""
    job_rule = aws.cloudwatch.EventRule(
        f"{setup.name}-job-ended",
        name=setup.names.event_rule,
        description="HealthImaging import jobs of this data store that ended (COMPLETED or FAILED)",
        event_pattern=json_when_known(alert_policies.import_job_event_pattern, datastore_arn=args["datastore_arn"]),
        tags=setup.tags,
        opts=setup.options(),
    )
    sweep_rule = aws.cloudwatch.EventRule(
        f"{setup.name}-sweep",
        name=setup.names.sweep_rule,
        description="Sweep the data store's recently ended import jobs (events are delivered best effort)",
        schedule_expression=setup.value("sweep_schedule"),
        tags=setup.tags,
        opts=setup.options(),
    )
    for rule, label in ((job_rule, "job-ended"), (sweep_rule, "sweep")):
        permission = aws.lambda_.Permission(
            f"{setup.name}-{label}-invoke",
            action="lambda:InvokeFunction",
            function=function.name,
            principal="events.amazonaws.com",
            source_arn=rule.arn,
            source_account=setup.account_id,
            opts=setup.options(),
        )
        aws.cloudwatch.EventTarget(
            f"{setup.name}-{label}-target",
            rule=rule.name,
            arn=function.arn,
            retry_policy={"maximum_event_age_in_seconds": MAX_EVENT_AGE_SECONDS, "maximum_retry_attempts": 185},
            opts=setup.options(depends_on=[permission]),
        )


def _create_alarms(
    setup: _Setup, *, function: aws.lambda_.Function, dead_letters: aws.sqs.Queue, topic: aws.sns.Topic
) -> None:
    """The two alarms that report a broken alert path to the topic: the function's errors, and dead letters."""
    _alarm_on_any(
        setup,
        "errors-alarm",
        name=setup.names.errors_alarm,
        description="The HealthImaging import alerts function failed: an import job may not have been checked. "
        "Read its log group; the next sweep retries.",
        namespace="AWS/Lambda",
        metric_name="Errors",
        dimensions={"FunctionName": function.name},
        statistic="Sum",
        topic_arn=topic.arn,
    )
    _alarm_on_any(
        setup,
        "dead-letters-alarm",
        name=setup.names.dead_letter_alarm,
        description="Events the HealthImaging import alerts function could not handle are waiting in its "
        "dead-letter queue: check those jobs by hand (python -m ahictl jobs).",
        namespace="AWS/SQS",
        metric_name="ApproximateNumberOfMessagesVisible",
        dimensions={"QueueName": dead_letters.name},
        statistic="Maximum",
        topic_arn=topic.arn,
    )


def _alarm_on_any(
    setup: _Setup,
    label: str,
    *,
    name: str,
    description: str,
    namespace: str,
    metric_name: str,
    dimensions: Mapping[str, pulumi.Input[str]],
    statistic: str,
    topic_arn: pulumi.Input[str],
) -> aws.cloudwatch.MetricAlarm:
    """An alarm (``<name>-<label>``) that goes off when the metric is at least one in a period (and says so again when
    it is back at zero), notifying the alert topic; no data counts as fine."""
    return aws.cloudwatch.MetricAlarm(
        f"{setup.name}-{label}",
        name=name,
        alarm_description=description,
        namespace=namespace,
        metric_name=metric_name,
        dimensions=dimensions,
        statistic=statistic,
        period=ALARM_PERIOD_SECONDS,
        evaluation_periods=1,
        threshold=1,
        comparison_operator="GreaterThanOrEqualToThreshold",
        treat_missing_data="notBreaching",
        alarm_actions=[topic_arn],
        ok_actions=[topic_arn],
        tags=setup.tags,
        opts=setup.options(),
    )


def _environment(
    args: ImportJobAlertsArgs, topic_arn: pulumi.Output[str], table_name: pulumi.Output[str]
) -> dict[str, Any]:
    """The function's environment variables (named by ``healthimaging_functions/import_alerts/config.py``, which
    reads them). Names and numbers only: no secrets."""

    value = with_defaults(args, IMPORT_ALERTS_DEFAULTS)

    def number(arg: str) -> str:
        return str(validation.as_whole_number(value(arg)))

    return {
        function_config.TOPIC_ARN: topic_arn,
        function_config.TABLE_NAME: table_name,
        function_config.DATASTORE_ID: args["datastore_id"],
        function_config.SWEEP_LOOKBACK_HOURS: number("sweep_lookback_hours"),
        function_config.REPORTED_RETENTION_DAYS: number("reported_retention_days"),
        function_config.MAX_FAILURES_LISTED: number("max_failures_listed"),
    }
