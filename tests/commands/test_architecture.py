"""The architecture view: what it shows for the example stacks and for every route of access, that it folds
unknown types instead of dropping them, that it shows the alert, audit and auto-import pieces, the overview with
each supporting component as one node and each supporting component in full, and that the README's overview and
the docs' component diagrams are what the code draws."""

from __future__ import annotations

import copy
import json
import keyword
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
import yaml

from ahictl import architecture, architecture_table, cli, diagram_svg, mermaid, mockrun
from ahictl import plan as plan_module
from ahictl.architecture import Architecture, Node
from testkit.mock_runs import (
    DEV_ACCOUNT,
    DEV_REGION,
    EVERY_OPTIONAL_COMPONENT,
    PROJECT_DIR,
    documentation,
    run_component,
    run_program,
)

Plan = dict[str, Any]
README = (PROJECT_DIR / "README.md").read_text()


@pytest.fixture(scope="module")
def dev_plan() -> Plan:
    return plan_module.plan_stack(PROJECT_DIR, "dev")


@pytest.fixture(scope="module")
def dev_view(dev_plan: Plan) -> Architecture:
    """The dev stack's view, core components only."""
    return _core(architecture.architecture(dev_plan))


#: The components every stack has; others (alerts, audit trail, auto-import) come with stack settings.
CORE_GROUPS = ("c_access", "c_datastore", "c_import_buckets", "c_import_job_role")


def _core(view: Architecture) -> Architecture:
    """The view restricted to the core components: the nodes in them (not a supporting component nested in one,
    drawn as one node) and the edges between those nodes."""
    nodes = [n for n in view.nodes if n.group in CORE_GROUPS and not n.detail]
    ids = {n.id for n in nodes}
    return Architecture(
        view.stack,
        [g for g in view.groups if g.id in CORE_GROUPS],
        nodes,
        [e for e in view.edges if e.source in ids and e.target in ids],
    )


def _node(view: Architecture, title: str) -> Node:
    found = [n for n in view.nodes if n.title == title]
    assert len(found) == 1, f"{title}: {[n.title for n in view.nodes]}"
    return found[0]


def _edges(view: Architecture) -> set[tuple[str, str, str, bool]]:
    titles = {n.id: n.title for n in view.nodes}
    return {(titles[e.source], titles[e.target], e.label, e.dotted) for e in view.edges}


# --- the dev stack ---------------------------------------------------------------------------------------------


def test_dev_view_has_one_node_per_resource_a_person_thinks_about(dev_view: Architecture) -> None:
    assert sorted(n.title for n in dev_view.nodes) == [
        "HealthImaging data store",
        "Import job role",
        "Input bucket (SecureBucket)",
        "KMS key",
        "KMS key",
        "Log bucket (SecureBucket)",
        "Output bucket (SecureBucket)",
        "admin persona",
        "importer persona",
        "reader persona",
    ]
    assert [(g.name, g.type.rsplit(":", 1)[-1], g.parent) for g in dev_view.groups] == [
        ("access", "HealthImagingAccess", ""),
        ("datastore", "ImagingDatastore", ""),
        ("import-buckets", "ImagingBucketPair", ""),
        ("import-job-role", "ImportJobRole", ""),
    ]


def test_bucket_controls_are_folded_into_their_bucket(dev_view: Architecture) -> None:
    inputs = _node(dev_view, "Input bucket (SecureBucket)")
    assert inputs.name == "ahi-dev-input-111122223333-us-east-1-an"
    assert inputs.tags == [
        "BPA",
        "ACLs off",
        "SSE-KMS",
        "versioned",
        "TLS-only",
        "logged",
        "old versions 90 d",
        "protected",
    ]
    assert inputs.protected
    assert len(inputs.resources) == 8  # the bucket, its six settings and its bucket policy
    logs = _node(dev_view, "Log bucket (SecureBucket)")
    assert "SSE-S3" in logs.tags
    assert "logged" not in logs.tags
    keys = sorted((n.name, n.tags) for n in dev_view.nodes if n.title == "KMS key")
    assert keys == [
        ("alias/ahi-dev-datastore-key", ["rotation on", "key policy", "protected"]),
        ("alias/ahi-dev-import-buckets", ["rotation on", "protected"]),
    ]


def test_dev_view_draws_the_relationships_that_matter(dev_view: Architecture) -> None:
    assert _edges(dev_view) == {
        ("admin persona", "HealthImaging data store", "starts imports, reads, writes, changes", False),
        ("admin persona", "Import job role", "passes", False),
        ("importer persona", "HealthImaging data store", "starts imports, reads", False),
        ("importer persona", "Input bucket (SecureBucket)", "reads, writes", False),
        ("importer persona", "Output bucket (SecureBucket)", "reads", False),
        ("importer persona", "Import job role", "passes", False),
        ("reader persona", "HealthImaging data store", "reads", False),
        ("HealthImaging data store", "Import job role", "assumes", False),
        ("KMS key", "HealthImaging data store", "encrypts", True),
        ("KMS key", "Input bucket (SecureBucket)", "encrypts", True),
        ("KMS key", "Output bucket (SecureBucket)", "encrypts", True),
        ("Input bucket (SecureBucket)", "Log bucket (SecureBucket)", "access logs", False),
        ("Output bucket (SecureBucket)", "Log bucket (SecureBucket)", "access logs", False),
        ("Import job role", "Input bucket (SecureBucket)", "reads", False),
        ("Import job role", "Output bucket (SecureBucket)", "writes", False),
    }
    key_of_buckets = next(n for n in dev_view.nodes if n.name == "alias/ahi-dev-import-buckets")
    assert {e.target for e in dev_view.edges if e.source == key_of_buckets.id} == {
        "n_import_buckets_input",
        "n_import_buckets_output",
    }, "the bucket key encrypts the input and output buckets, not the log bucket (SSE-S3)"


@pytest.mark.parametrize("stack", plan_module.available_stacks(PROJECT_DIR))
def test_every_resource_is_drawn_exactly_once(stack: str) -> None:
    plan = plan_module.plan_stack(PROJECT_DIR, stack)
    view = architecture.architecture(plan)
    drawn = [urn for node in view.nodes for urn in node.resources]
    custom = [r["urn"] for r in plan["resources"] if r["custom"] and not r["type"].startswith("pulumi:providers:")]
    assert sorted(drawn) == sorted(custom)
    ids = [n.id for n in view.nodes] + [g.id for g in view.groups]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[A-Za-z0-9_]+", i) for i in ids)
    assert {e.source for e in view.edges} | {e.target for e in view.edges} <= {n.id for n in view.nodes}
    for component in (r for r in plan["resources"] if not r["custom"]):
        type_name = component["type"].rsplit(":", 1)[-1]
        children = {r["urn"] for r in plan["resources"] if r["parentUrn"] == component["urn"]}
        as_group = [g for g in view.groups if (g.name, g.type) == (component["name"], component["type"])]
        as_node = [n for n in view.nodes if children & set(n.resources) and n.title.endswith(f"({type_name})")]
        assert len(as_group) + len(as_node) == 1, f"{component['name']}: drawn as {as_group} and {as_node}"


def test_sse_s3_buckets_have_no_key_and_no_encrypts_arrow() -> None:
    run = run_program(bucketEncryption="sse-s3")
    view = _core(architecture.architecture(plan_module.build_plan(run, account_id=DEV_ACCOUNT, region=DEV_REGION)))
    assert "SSE-S3" in _node(view, "Input bucket (SecureBucket)").tags
    assert [n.name for n in view.nodes if n.title == "KMS key"] == ["alias/ahi-dev-datastore-key"]
    assert ("KMS key", "Input bucket (SecureBucket)", "encrypts", True) not in _edges(view)


def test_routes_are_folded_into_their_persona() -> None:
    run = run_program(
        accessPersonas=["admin", "importer", "reader", "break-glass"],
        accessRolePrincipals={"reader": ["arn:aws:iam::111122223333:user/alice"]},
        accessIdentityCenterInstanceArn="arn:aws:sso:::instance/ssoins-0123456789abcdef",
        accessAdminUserName="ahiadmin",
    )
    view = _core(architecture.architecture(plan_module.build_plan(run, account_id=DEV_ACCOUNT, region=DEV_REGION)))
    personas = {n.title: n.tags for n in view.nodes if n.group == "c_access"}
    assert personas == {
        "admin persona": ["IAM group", "IAM user ahiadmin", "Identity Center permission set"],
        "break-glass persona": ["IAM group", "Identity Center permission set"],
        "importer persona": ["IAM group", "Identity Center permission set"],
        "reader persona": ["IAM group", "IAM role (1 principal, MFA)", "Identity Center permission set"],
    }
    roles = [n.title for n in view.nodes if n.icon == "role"]
    assert roles == ["Import job role"], "a persona's role is a route of the persona, not a node of its own"
    assert (
        "break-glass persona",
        "HealthImaging data store",
        "starts imports, reads, writes, changes, deletes",
        False,
    ) in (_edges(view))


# --- types the table does not know --------------------------------------------------------------------------


def _with_unknown_resources(plan: Plan) -> Plan:
    changed = copy.deepcopy(plan)
    by_name = {r["name"]: r for r in changed["resources"]}
    pair, bucket = (
        by_name["import-buckets"],
        next(
            r
            for r in changed["resources"]
            if r["type"] == "aws:s3/bucket:Bucket" and r["name"] == "import-buckets-input"
        ),
    )
    template = {
        "custom": True,
        "protect": False,
        "retainOnDelete": False,
        "ignoreChanges": [],
        "dependsOn": [],
        "provider": "aws",
        "inputs": {},
    }
    changed["resources"] += [
        {
            **template,
            "name": "import-buckets-inventory",
            "type": "aws:s3/bucketInventory:BucketInventory",
            "urn": pair["urn"] + "$aws:s3/bucketInventory:BucketInventory::import-buckets-inventory",
            "parent": pair["name"],
            "parentUrn": pair["urn"],
            "propertyDependencies": {"destination": [bucket["urn"]]},
        },
        {
            **template,
            "name": "budget",
            "type": "aws:budgets/budget:Budget",
            "urn": "urn:pulumi:dev::healthimaging-setup::aws:budgets/budget:Budget::budget",
            "parent": "",
            "parentUrn": "",
            "propertyDependencies": {},
        },
    ]
    return changed


def test_unknown_types_are_folded_into_their_components_node(dev_plan: Plan) -> None:
    view = architecture.architecture(_with_unknown_resources(dev_plan))
    other = next(n for n in view.nodes if n.id == "c_import_buckets__other")
    assert other.group == "c_import_buckets"
    assert other.title == "1 more resource"
    assert other.tags == ["s3 BucketInventory"]
    assert any(
        e.source == other.id and e.target == "n_import_buckets_input" and e.label == "destination" for e in view.edges
    )
    top = next(n for n in view.nodes if n.id == "stack__other")
    assert (top.group, top.tags) == ("", ["budgets Budget"])
    text = mermaid.render_architecture(view)
    assert "s3 BucketInventory" in text
    assert "budgets Budget" in text


def test_every_type_in_the_table_is_a_real_resource_type() -> None:
    import pulumi_aws_native

    sources = {
        "aws": Path(aws.__file__).parent,
        "aws-native": Path(pulumi_aws_native.__file__).parent,
    }
    tokens = set(architecture_table.SHAPES) | {
        resource_type for _component, resource_type in architecture_table.COMPONENT_SHAPES
    }
    for token in sorted(tokens):
        package, module = token.split(":")[0], token.split(":")[1].split("/")[0].replace("-", "_")
        module_dir = sources[package] / (f"{module}_" if keyword.iskeyword(module) else module)
        assert module_dir.is_dir(), token
        assert any(f"'{token}'" in p.read_text() or f'"{token}"' in p.read_text() for p in module_dir.glob("*.py")), (
            token
        )


def test_every_icon_has_a_picture() -> None:
    icons = {shape.icon for shape in architecture_table.SHAPES.values()} | {
        shape.icon for shape in architecture_table.COMPONENT_SHAPES.values()
    }
    assert icons <= set(diagram_svg.ICONS)


# --- alert, audit and auto-import pieces ----------------------------------------------------------------------


class _Component(pulumi.ComponentResource):
    def __init__(self, type_name: str, name: str) -> None:
        super().__init__(f"healthimaging:index:{type_name}", name, None, None)


def _pieces_program() -> None:
    """The kinds of resources the import alerts, the audit trail and auto-import are built from."""
    store = _Component("ImagingDatastore", "datastore")
    key = aws.kms.Key("datastore-key", enable_key_rotation=True, opts=pulumi.ResourceOptions(parent=store))
    datastore_arn = pulumi.Output.from_input(f"arn:aws:medical-imaging:{DEV_REGION}:{DEV_ACCOUNT}:datastore/abc")
    buckets = _Component("ImagingBucketPair", "import-buckets")
    input_bucket = aws.s3.Bucket(
        "import-buckets-input", bucket="in-bucket", opts=pulumi.ResourceOptions(parent=buckets)
    )

    alerts = _Component("ImportJobAlerts", "import-alerts")
    child = pulumi.ResourceOptions(parent=alerts)
    topic = aws.sns.Topic("import-alerts-topic", name="alerts", kms_master_key_id=key.arn, opts=child)
    aws.sns.TopicSubscription(
        "import-alerts-email", topic=topic.arn, protocol="email", endpoint="a@example.org", opts=child
    )
    dlq = aws.sqs.Queue("import-alerts-dlq", name="alerts-dlq", kms_master_key_id=key.arn, opts=child)
    role = aws.iam.Role(
        "import-alerts-function-role",
        name="alerts-function",
        assume_role_policy=json.dumps(
            {
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ]
            }
        ),
        opts=child,
    )
    aws.iam.RolePolicy(
        "import-alerts-function-policy",
        role=role.id,
        policy=pulumi.Output.all(topic.arn, input_bucket.arn).apply(
            lambda v: json.dumps(
                {
                    "Statement": [
                        {"Effect": "Allow", "Action": "sns:Publish", "Resource": v[0]},
                        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{v[1]}/*"},
                    ]
                }
            )
        ),
        opts=child,
    )
    function = aws.lambda_.Function(
        "import-alerts-function",
        name="alerts",
        role=role.arn,
        runtime="python3.12",
        handler="handler.main",
        reserved_concurrent_executions=2,
        dead_letter_config={"target_arn": dlq.arn},
        environment={"variables": {"TOPIC_ARN": topic.arn}},
        opts=child,
    )
    rule = aws.cloudwatch.EventRule(
        "import-alerts-rule",
        event_pattern=datastore_arn.apply(
            lambda arn: json.dumps({"source": ["aws.medical-imaging"], "resources": [arn]})
        ),
        opts=child,
    )
    aws.cloudwatch.EventTarget("import-alerts-target", rule=rule.name, arn=function.arn, opts=child)
    aws.cloudwatch.LogGroup("import-alerts-logs", name="/aws/lambda/alerts", retention_in_days=365, opts=child)
    aws.cloudwatch.EventRule("import-alerts-sweep", schedule_expression="rate(1 hour)", opts=child)
    aws.lambda_.Permission(
        "import-alerts-invoke",
        function=function.name,
        action="lambda:InvokeFunction",
        principal="events.amazonaws.com",
        source_arn=rule.arn,
        opts=child,
    )
    aws.cloudwatch.MetricAlarm(
        "import-alerts-errors",
        name="alerts-errors",
        comparison_operator="GreaterThanThreshold",
        evaluation_periods=1,
        metric_name="Errors",
        namespace="AWS/Lambda",
        period=300,
        statistic="Sum",
        threshold=0,
        dimensions={"FunctionName": function.name},
        alarm_actions=[topic.arn],
        opts=child,
    )

    audit = _Component("AuditTrail", "audit")
    trail_bucket = aws.s3.Bucket("audit-logs", bucket="audit-logs", opts=pulumi.ResourceOptions(parent=audit))
    aws.cloudtrail.Trail(
        "audit-trail",
        name="audit",
        s3_bucket_name=trail_bucket.bucket,
        kms_key_id=key.arn,
        enable_log_file_validation=True,
        advanced_event_selectors=[
            {
                "name": "input objects",
                "field_selectors": [
                    {"field": "eventCategory", "equals": ["Data"]},
                    {"field": "resources.ARN", "starts_withs": [input_bucket.arn.apply(lambda a: f"{a}/")]},
                ],
            }
        ],
        opts=pulumi.ResourceOptions(parent=audit),
    )

    auto = _Component("AutoImport", "auto-import")
    queue = aws.sqs.Queue(
        "auto-import-queue", name="auto-import", kms_master_key_id=key.arn, opts=pulumi.ResourceOptions(parent=auto)
    )
    importer = aws.lambda_.Function(
        "auto-import-function",
        name="auto-import",
        role=role.arn,
        runtime="python3.12",
        handler="handler.main",
        opts=pulumi.ResourceOptions(parent=auto),
    )
    aws.lambda_.EventSourceMapping(
        "auto-import-trigger",
        event_source_arn=queue.arn,
        function_name=importer.name,
        opts=pulumi.ResourceOptions(parent=auto),
    )


_ARN_SERVICES = {"cloudwatch/eventRule": "events", "cloudwatch/metricAlarm": "cloudwatch", "lambda/function": "lambda"}


def _with_aws_identifiers(new_resource: Any) -> Any:
    """PlanMocks.new_resource, plus the name, ARN and queue URL AWS returns for the types the plan's mocks do not
    model yet (topics, queues, functions, rules, trails), so references to them carry values as in AWS."""

    def patched(self: mockrun.PlanMocks, args: Any) -> tuple[str | None, dict[str, Any]]:
        rid, state = new_resource(self, args)
        if "arn" not in state and args.typ.startswith("aws:"):
            module = args.typ.split(":")[1].rsplit("/", 1)[0]
            name = args.inputs.get("name") or args.name
            service = _ARN_SERVICES.get(args.typ.split(":")[1], module)
            kind = {"lambda": "function:", "events": "rule/", "cloudtrail": "trail/"}.get(service, "")
            state.update(name=name, arn=f"arn:aws:{service}:{self.region}:{self.account_id}:{kind}{name}")
            if args.typ == "aws:sqs/queue:Queue":
                state["url"] = f"https://sqs.{self.region}.amazonaws.com/{self.account_id}/{name}"
        return rid, state

    return patched


@pytest.fixture(scope="module")
def pieces_view() -> Architecture:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mockrun.PlanMocks, "new_resource", _with_aws_identifiers(mockrun.PlanMocks.new_resource))
        run = run_component(_pieces_program)
    return architecture.architecture(plan_module.build_plan(run, account_id=DEV_ACCOUNT, region=DEV_REGION))


def test_alert_audit_and_auto_import_pieces_are_shown(pieces_view: Architecture) -> None:
    by_group: dict[str, list[str]] = {}
    for node in pieces_view.nodes:
        by_group.setdefault(node.group, []).append(node.title)
    assert sorted(by_group["c_import_alerts"]) == [
        "CloudWatch alarm",
        "EventBridge rule",
        "EventBridge rule",
        "Function role",
        "Lambda function",
        "SNS topic",
        "SQS queue",
        "log group",
    ]
    assert next(n for n in pieces_view.nodes if n.name == "sweep").tags == ["rate(1 hour)"]
    assert next(n for n in pieces_view.nodes if n.name == "/aws/lambda/alerts").tags == ["kept 365 d"]
    assert sorted(by_group["c_audit"]) == ["CloudTrail trail", "S3 bucket"]
    assert sorted(by_group["c_auto_import"]) == ["Lambda function", "SQS queue"]
    function = next(n for n in pieces_view.nodes if n.name == "alerts")
    assert function.tags == ["python3.12", "concurrency 2"]
    assert len(function.resources) == 2, "the function and its invoke permission"
    topic = next(n for n in pieces_view.nodes if n.title == "SNS topic")
    assert "email subscription" in topic.tags


def test_events_messages_and_logs_flow_between_the_pieces(pieces_view: Architecture) -> None:
    names = {n.id: n.name for n in pieces_view.nodes}
    edges = {(names[e.source], names[e.target], e.label, e.dotted) for e in pieces_view.edges}
    expected = {
        ("rule", "alerts", "triggers", False),  # a rule without a name: its resource name in its component
        ("alerts", "alerts-function", "runs as", False),
        ("alerts", "alerts-dlq", "failed events", False),
        ("alerts-function", "alerts", "publishes", False),  # the function's role publishes to the topic
        ("alerts-function", "in-bucket", "reads", False),
        ("alerts", "alerts-errors", "watched by", True),
        ("alerts-errors", "alerts", "alarms", False),
        ("audit", "audit-logs", "writes logs", False),
        ("in-bucket", "audit", "data events", True),
        ("auto-import", "auto-import", "triggers", False),  # the queue triggers the function
        ("auto-import", "alerts-function", "runs as", False),
        ("alerts", "/aws/lambda/alerts", "logs", False),  # Lambda's log group, by AWS's naming convention
    }
    missing = expected - edges
    assert not missing, f"missing {missing}; drawn {sorted(edges)}"
    key = next(n.id for n in pieces_view.nodes if n.title == "KMS key")
    encrypted = {names[e.target] for e in pieces_view.edges if e.source == key and e.label == "encrypts" and e.dotted}
    assert encrypted == {"alerts", "alerts-dlq", "audit", "auto-import"}


def test_an_arrow_label_with_brackets_is_quoted_for_mermaid() -> None:
    view = Architecture(
        "dev",
        [],
        [Node("a", "distribution", "A", "", [], ""), Node("b", "bucket", "B", "", [], "")],
        [
            architecture.Edge("a", "b", ["reads (origin access control)"]),
            architecture.Edge("b", "a", ["encrypts"], dotted=True),
        ],
    )
    text = mermaid.render_architecture(view)
    assert '  a -->|"reads (origin access control)"| b\n' in text
    assert "  b -.->|encrypts| a\n" in text


def test_the_pieces_render_as_mermaid(pieces_view: Architecture) -> None:
    text = mermaid.render_architecture(pieces_view)
    assert 'subgraph c_import_alerts["import-alerts (ImportJobAlerts)"]' in text
    assert 'subgraph c_audit["audit (AuditTrail)"]' in text
    assert "-.->|encrypts|" in text


# --- the command line and the README ----------------------------------------------------------------------


def _cli(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ahictl", "plan", *arguments],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_mermaid_defaults_to_the_architecture_view(dev_plan: Plan) -> None:
    default = _cli("--stack", "dev", "--format", "mermaid")
    assert default.returncode == 0, default.stderr
    assert default.stdout == mermaid.render_architecture(architecture.overview(architecture.architecture(dev_plan)))
    assert cli.render(dev_plan, "mermaid") == default.stdout
    assert cli.render(dev_plan, "mermaid", "resources") == mermaid.render_mermaid(dev_plan)
    with pytest.raises(ValueError, match="unknown detail"):
        cli.render(dev_plan, "mermaid", "everything")


def test_detail_resources_is_the_full_resource_graph(dev_plan: Plan) -> None:
    resources = _cli("--stack", "dev", "--format", "mermaid", "--detail", "resources")
    assert resources.returncode == 0, resources.stderr
    assert resources.stdout == mermaid.render_mermaid(dev_plan)


def test_detail_with_another_format_is_refused_before_the_plan_runs() -> None:
    refused = _cli("--stack", "no-such-stack", "--format", "json", "--detail", "resources")
    assert refused.returncode == 2
    assert refused.stderr == "error: --detail resources applies to --format mermaid only (got --format json)\n"
    assert refused.stdout == ""


def test_a_picture_without_the_optional_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(diagram_svg, "missing_requirements", lambda: ["Graphviz's dot (apt-get install graphviz)"])
    message = cli._picture_problem("svg", "architecture")
    assert (
        message
        == "--format svg needs Graphviz's dot (apt-get install graphviz); or use --format mermaid, which needs neither"
    )
    assert cli.main(["plan", "--stack", "dev", "--format", "png"]) == 2
    with pytest.raises(RuntimeError, match="needs Graphviz"):
        diagram_svg.render_picture(Architecture("dev", [], [], []), "svg")


def test_readme_overview_is_the_dev_stacks_architecture_view(dev_plan: Plan) -> None:
    section = README.split("## What it creates, and why", 1)[1]
    match = re.search(r"```mermaid\n(.*?)```", section, re.DOTALL)
    assert match, "the README has no Mermaid block under 'What it creates, and why'"
    assert match.group(1) == cli.render(dev_plan, "mermaid"), (
        "regenerate it: venv/bin/python -m ahictl plan --stack dev --format mermaid"
    )


def test_readme_quick_start_commands_are_unchanged() -> None:
    assert (
        "python3 -m venv venv && venv/bin/pip install -q -r requirements.txt && venv/bin/python -m ahictl plan --stack dev"
        in README
    )
    assert "```bash\nbash scripts/test\n```" in README
    assert "diagrams" not in (PROJECT_DIR / "requirements.txt").read_text()


def test_png_to_a_terminal_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(diagram_svg, "missing_requirements", list)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert cli._picture_problem("png", "architecture").startswith("--format png writes a binary picture")
    assert cli._picture_problem("png", "architecture", Path("dev.png")) == ""
    assert cli._picture_problem("svg", "architecture") == ""


# --- the overview and each supporting component in full ------------------------------------------------------

#: Every optional component on and every persona, route and principal: the largest overview a stack can draw.
EVERYTHING = {
    **EVERY_OPTIONAL_COMPONENT,
    "accessPersonas": json.dumps(["admin", "importer", "reader", "break-glass"]),
    "accessRolePrincipals": json.dumps({"reader": ["arn:aws:iam::111122223333:user/alice"]}),
    "accessIdentityCenterInstanceArn": "arn:aws:sso:::instance/ssoins-0123456789abcdef",
    "accessAdminUserName": "ahiadmin",
}
#: The most nodes the overview may have: the guide's architecture at a glance.
OVERVIEW_MAX_NODES = 16


@pytest.fixture(scope="module")
def dev_everything_view() -> Architecture:
    return architecture.architecture(plan_module.plan_stack(PROJECT_DIR, "dev", EVERYTHING))


#: An OIDC provider of its own for the DICOMweb authorizer (no viewer needed).
DICOMWEB_OIDC = json.dumps(
    {"issuer": "https://login.example.org", "audiences": ["viewer"], "personas": {"reader": ["radiology"]}}
)
#: The data store's creation-time options, each way the stack can ask for them.
CREATION_OPTIONS = {
    "every-optional-component": EVERYTHING,
    "dicomweb-oidc": {"dicomwebOidc": DICOMWEB_OIDC},
    "every-optional-component-and-dicomweb-oidc": {**EVERYTHING, "dicomwebOidc": DICOMWEB_OIDC},
    "jpeg-2000": {"datastoreLosslessStorageFormat": "JPEG_2000_LOSSLESS"},
}


@pytest.mark.parametrize("options", list(CREATION_OPTIONS))
@pytest.mark.parametrize("stack", plan_module.available_stacks(PROJECT_DIR))
def test_the_overview_has_at_most_16_nodes(stack: str, options: str) -> None:
    plan = plan_module.plan_stack(PROJECT_DIR, stack, CREATION_OPTIONS[options])
    overview = architecture.overview(architecture.architecture(plan))
    assert len(overview.nodes) <= OVERVIEW_MAX_NODES, [n.title for n in overview.nodes]


def test_the_overview_draws_each_supporting_component_as_one_node(dev_everything_view: Architecture) -> None:
    overview = architecture.overview(dev_everything_view)
    components = {n.title: n for n in overview.nodes if n.detail}
    assert {title: (n.detail, n.group) for title, n in components.items()} == {
        "Import job alerts": ("import-alerts", ""),
        "Audit trail": ("audit-trail", ""),
        "Import on upload": ("auto-import", ""),
        "Team viewer (OHIF on CloudFront)": ("viewer", ""),
        "DICOMweb authorizer": ("dicomweb-authorizer", "c_datastore"),
    }
    assert components["Audit trail"].tags == [
        "Audit bucket (SecureBucket)",
        "KMS key",
        "CloudTrail trail",
        "3 protected",
    ]
    assert components["Import on upload"].tags[-1] == "1 protected", "its key"
    assert components["Import on upload"].name == "auto-import (AutoImport)"
    assert "EventBridge rule ×2" in components["Import job alerts"].tags
    for node in components.values():
        inside = [n for n in dev_everything_view.nodes if n.group == node.id or n.group.startswith(f"{node.id}_")]
        assert sorted(node.resources) == sorted(urn for n in inside for urn in n.resources)
    assert not {g.id for g in overview.groups} & {n.id for n in components.values()}, "no box of a collapsed one"


def test_the_overview_keeps_the_guides_architecture_whole(dev_everything_view: Architecture) -> None:
    overview = architecture.overview(dev_everything_view)
    assert _core(overview).nodes == _core(dev_everything_view).nodes
    assert _core(overview).edges == _core(dev_everything_view).edges


def test_the_overview_draws_the_arrows_of_a_supporting_component_from_its_node(
    dev_everything_view: Architecture,
) -> None:
    edges = _edges(architecture.overview(dev_everything_view))
    expected = {
        ("HealthImaging data store", "Import job alerts", "events", False),
        ("Import job alerts", "HealthImaging data store", "reads", False),
        ("Import job alerts", "Output bucket (SecureBucket)", "reads", False),
        ("HealthImaging data store", "Audit trail", "data events", True),
        ("Input bucket (SecureBucket)", "Audit trail", "data events", True),
        ("Audit trail", "Log bucket (SecureBucket)", "access logs", False),
        ("Input bucket (SecureBucket)", "Import on upload", "events", False),
        ("Import on upload", "Input bucket (SecureBucket)", "reads, writes", False),
        ("Import on upload", "HealthImaging data store", "starts imports, reads", False),
        ("Import on upload", "Import job role", "passes", False),
        ("Import on upload", "Import job alerts", "publishes", False),
    }
    assert expected <= edges, f"missing {expected - edges}"
    assert not [e for e in edges if e[0] == e[1]], "no arrow from a component to itself"


def test_a_component_in_full_shows_its_nodes_and_what_it_reaches(dev_everything_view: Architecture) -> None:
    detail = architecture.component_detail(dev_everything_view, "auto-import")
    inside = [n for n in dev_everything_view.nodes if n.group == "c_auto_import"]
    assert [n for n in detail.nodes if n.group == "c_auto_import"] == inside
    outside = sorted(n.title for n in detail.nodes if n.group != "c_auto_import")
    assert outside == [
        "HealthImaging data store",
        "Import job alerts",
        "Import job role",
        "Input bucket (SecureBucket)",
        "Output bucket (SecureBucket)",
    ]
    ids = {n.id for n in inside}
    assert all(e.source in ids or e.target in ids for e in detail.edges)
    assert [g.id for g in detail.groups] == ["c_auto_import", "c_datastore", "c_import_buckets", "c_import_job_role"]
    alerts = next(n for n in detail.nodes if n.title == "Import job alerts")
    assert alerts.detail == "import-alerts", "another supporting component stays one node"


def test_the_dicomweb_authorizer_is_one_node_with_its_arrows(dev_everything_view: Architecture) -> None:
    overview = architecture.overview(dev_everything_view)
    [authorizer] = [n for n in overview.nodes if n.detail == "dicomweb-authorizer"]
    assert (authorizer.title, authorizer.icon, authorizer.group) == ("DICOMweb authorizer", "function", "c_datastore")
    assert authorizer.tags == [
        "KMS key",
        "Admin role",
        "Function role",
        "Importer role",
        "Reader role",
        "Lambda function",
        "log group",
        "1 protected",
    ]
    assert not [n for n in overview.nodes if n.group == "c_datastore_authorizer"], "nothing of it drawn on its own"
    titles = {n.id: n.title for n in overview.nodes}
    touching = {e for e in _edges(overview) if "DICOMweb authorizer" in (e[0], e[1])}
    assert touching == {
        ("HealthImaging data store", "DICOMweb authorizer", "assumes, invokes", False),
        ("DICOMweb authorizer", "HealthImaging data store", "reads, writes", False),
        ("DICOMweb authorizer", "HealthImaging data store", "set at creation", True),
    }
    assert all(titles[e.source] != titles[e.target] for e in overview.edges if authorizer.id in (e.source, e.target))


def test_the_dicomweb_authorizer_in_full_shows_its_function_and_persona_roles(
    dev_everything_view: Architecture,
) -> None:
    detail = architecture.component_detail(dev_everything_view, "dicomweb-authorizer")
    inside = {n.title: n for n in detail.nodes if n.group == "c_datastore_authorizer"}
    assert sorted(inside) == [
        "Admin role",
        "Function role",
        "Importer role",
        "KMS key",
        "Lambda function",
        "Reader role",
        "log group",
    ]
    function = inside["Lambda function"]
    assert function.tags == ["python3.12", "concurrency 10", "alias live", "provisioned concurrency 1"]
    assert len(function.resources) == 4, "the function, its alias, provisioned concurrency and invoke permission"
    edges = _edges(detail)
    assert ("HealthImaging data store", "Lambda function", "invokes", False) in edges
    for persona, verbs in (("Admin", "reads, writes"), ("Importer", "reads, writes"), ("Reader", "reads")):
        assert (f"{persona} role", "HealthImaging data store", verbs, False) in edges
        assert ("HealthImaging data store", f"{persona} role", "assumes", False) in edges
    text = mermaid.render_architecture(detail)
    assert 'subgraph c_datastore_authorizer["datastore-authorizer (DicomwebAuthorizer)"]' in text


@pytest.fixture(scope="module")
def jpeg_2000_plan() -> Plan:
    return plan_module.plan_stack(PROJECT_DIR, "dev", CREATION_OPTIONS["jpeg-2000"])


#: The data store creator's resources (components/created_datastore.py), by type.
CREATOR_TYPES = [
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:iam/role:Role",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:kms/alias:Alias",
    "aws:kms/key:Key",
    "aws:lambda/function:Function",
    "aws:lambda/invocation:Invocation",
]


def test_the_data_store_creator_is_folded_into_the_data_store(jpeg_2000_plan: Plan) -> None:
    view = architecture.architecture(jpeg_2000_plan)
    store = _node(view, "HealthImaging data store")
    assert (store.name, store.tags) == (
        "ahi-dev-datastore",
        ["JPEG_2000_LOSSLESS", "created by a function (creation-time options)", "protected"],
    )
    types = {r["urn"]: r["type"] for r in jpeg_2000_plan["resources"]}
    assert sorted(types[urn] for urn in store.resources) == CREATOR_TYPES
    assert not [n for n in view.nodes if n.group == "c_datastore" and n.icon in ("function", "role", "log-group")]
    assert [n.name for n in view.nodes if n.group == "c_datastore" and n.title == "KMS key"] == [
        "alias/ahi-dev-datastore-key"
    ], "the data store's own key stays a node: the creator is not the only one referring to it"
    assert ("KMS key", "HealthImaging data store", "encrypts", True) in _edges(view)


def test_a_creator_function_something_else_refers_to_stays_a_node(jpeg_2000_plan: Plan) -> None:
    changed = copy.deepcopy(jpeg_2000_plan)
    function = next(r for r in changed["resources"] if r["type"] == "aws:lambda/function:Function")
    alarm_type = "aws:cloudwatch/metricAlarm:MetricAlarm"
    changed["resources"].append(
        {
            **function,
            "name": "creator-errors",
            "type": alarm_type,
            "urn": function["urn"].replace(function["type"], alarm_type).rsplit("::", 1)[0] + "::creator-errors",
            "inputs": {"name": "creator-errors"},
            "propertyDependencies": {"dimensions": [function["urn"]]},
        }
    )
    view = architecture.architecture(changed)
    [drawn] = [n for n in view.nodes if n.title == "Lambda function" and n.group == "c_datastore"]
    assert drawn.name == "ahi-dev-datastore-creator"
    assert function["urn"] not in _node(view, "HealthImaging data store").resources
    assert ("Lambda function", "CloudWatch alarm", "watched by", True) in _edges(view)


def test_a_component_the_stack_does_not_create_is_a_clear_error(dev_plan: Plan) -> None:
    refused = _cli("--stack", "dev", "--format", "mermaid", "--detail", "auto-import")
    assert refused.returncode == 2
    assert refused.stderr == (
        "error: --detail auto-import: stack 'dev' has no AutoImport component to draw (the stack key autoImport "
        "switches it on); set autoImport: true in the stack's file, or plan with --set autoImport=true\n"
    )
    assert refused.stdout == ""


def test_the_missing_authorizer_error_says_how_to_switch_it_on() -> None:
    refused = _cli("--stack", "dev", "--format", "mermaid", "--detail", "dicomweb-authorizer")
    assert refused.returncode == 2
    assert refused.stderr == (
        "error: --detail dicomweb-authorizer: stack 'dev' has no DicomwebAuthorizer component to draw (the stack key "
        "dicomwebOidc switches it on); set dicomwebOidc to an OIDC provider (issuer, audiences, personas) in the "
        "stack's file, or viewer: true (the authorizer then trusts the viewer's user pool), or plan with "
        "--set viewer=true\n"
    )
    assert refused.stdout == ""


def test_detail_of_a_component_is_its_diagram_in_full(dev_plan: Plan) -> None:
    drawn = _cli("--stack", "dev", "--format", "mermaid", "--detail", "audit-trail")
    assert drawn.returncode == 0, drawn.stderr
    expected = architecture.component_detail(architecture.architecture(dev_plan), "audit-trail")
    assert drawn.stdout == mermaid.render_architecture(expected)
    assert 'subgraph c_audit_trail["audit-trail (AuditTrail)"]' in drawn.stdout


def test_every_supporting_components_stack_key_is_a_project_setting() -> None:
    config = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())["config"]
    for supporting in architecture_table.SUPPORTING_COMPONENTS.values():
        if not supporting.switch_on:  # a toggle: "set <key>: true"
            assert config[supporting.setting]["type"] == "boolean", supporting.setting
            continue
        assert supporting.setting in config, supporting.setting
        assert supporting.switch_on.startswith(f"set {supporting.setting} "), supporting.switch_on
        for key in re.findall(r"--set (\w+)=true", supporting.switch_on):
            assert config[key]["type"] == "boolean", key


#: The command line of a component's diagram in the docs, and the Mermaid block after it.
_DOCS_DIAGRAM = re.compile(
    r"`venv/bin/python -m ahictl plan --stack (?P<stack>\S+) --format mermaid --detail (?P<detail>[a-z-]+)"
    r"(?P<sets>(?: --set \S+)*)`.*?```mermaid\n(?P<diagram>.*?)```",
    re.DOTALL,
)


def test_each_supporting_component_has_its_diagram_in_the_docs() -> None:
    documented = [m["detail"] for m in _DOCS_DIAGRAM.finditer(documentation())]
    assert sorted(documented) == sorted(architecture.detail_names())


@pytest.mark.parametrize("match", list(_DOCS_DIAGRAM.finditer(documentation())), ids=lambda m: m["detail"])
def test_the_docs_component_diagrams_are_what_the_code_draws(match: re.Match[str]) -> None:
    overrides = plan_module.parse_overrides(match["sets"].split(" --set ")[1:])
    plan = plan_module.plan_stack(PROJECT_DIR, match["stack"], overrides)
    assert match["diagram"] == cli.render(plan, "mermaid", match["detail"]), (
        f"regenerate it: venv/bin/python -m ahictl plan --stack {match['stack']} --format mermaid "
        f"--detail {match['detail']}{match['sets']}"
    )
