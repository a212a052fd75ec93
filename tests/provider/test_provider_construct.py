"""Each component, constructed the way another language constructs it, registers what a Python caller's does.

The requests carry what the wire delivers: camelCase keys, integers as floats (``30.0``), lists and maps as
plain values, ``Input`` fields as output values with dependencies on the consumer's resources (one a secret),
or as plain values with ``inputDependencies``. Bad requests are refused by camelCase name, before anything
is registered.
"""

from __future__ import annotations

from typing import Any

import pytest
from pulumi.errors import InputPropertiesError
from pulumi.provider.experimental.analyzer import PropertyType

from ahictl import mockrun
from components import (
    AuditTrail,
    AutoImport,
    DicomwebAuthorizer,
    HealthImagingAccess,
    ImagingBucketPair,
    ImagingDatastore,
    ImagingViewer,
    ImportJobAlerts,
    ImportJobRole,
)
from components.validation import InvalidInputError
from program.viewer_app_source import FIXTURE_APP_DIR
from testkit.provider_harness import (
    build_provider,
    construct_request,
    consumer_urn,
    output_value,
    plugin,
    registrations,
    run_construct,
    run_in_process,
    schema_camel_case,
    secret_value,
    unwrap_secrets,
)

ACCOUNT = "111122223333"
REGION = "us-east-1"
DATASTORE_ARN = f"arn:aws:medical-imaging:{REGION}:{ACCOUNT}:datastore/0123456789abcdef0123456789abcdef"
INPUT_BUCKET_ARN = f"arn:aws:s3:::ahi-dev-input-{ACCOUNT}-{REGION}-an"
OUTPUT_BUCKET_ARN = f"arn:aws:s3:::ahi-dev-output-{ACCOUNT}-{REGION}-an"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
IMPORT_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/ahi-dev-ImportJobDataAccessRole"
INSTANCE_ARN = "arn:aws:sso:::instance/ssoins-1234567890abcdef"

#: One valid set of Python arguments per served component, using every kind of input it has: integers,
#: lists, maps, and ``Input`` fields (which the requests send as outputs of the consumer's resources).
EXAMPLES: dict[str, tuple[type[Any], dict[str, Any]]] = {
    "ImagingBucketPair": (
        ImagingBucketPair,
        {
            "account_id": ACCOUNT,
            "region": REGION,
            "name_prefix": "ahi-dev",
            "noncurrent_version_expiration_days": 30,
            "current_version_expiration_days": 3650,
            "tags": {"team": "imaging", "cost-centre": "radiology"},
        },
    ),
    "ImagingDatastore": (
        ImagingDatastore,
        {
            "account_id": ACCOUNT,
            "region": REGION,
            "datastore_name": "ahi-dev",
            "key_alias": "ahi-dev-datastore-key",
            "tags": {"team": "imaging"},
        },
    ),
    "ImportJobRole": (
        ImportJobRole,
        {
            "account_id": ACCOUNT,
            "region": REGION,
            "datastore_arn": DATASTORE_ARN,
            "input_bucket_arn": INPUT_BUCKET_ARN,
            "output_bucket_arn": OUTPUT_BUCKET_ARN,
            "input_kms_key_arn": KEY_ARN,
            "output_kms_key_arn": KEY_ARN,
            "role_name": "ahi-dev-ImportJobDataAccessRole",
            "tags": {"team": "imaging"},
        },
    ),
    "HealthImagingAccess": (
        HealthImagingAccess,
        {
            "account_id": ACCOUNT,
            "region": REGION,
            "name_prefix": "ahi-dev",
            "datastore_arn": DATASTORE_ARN,
            "input_bucket_arn": INPUT_BUCKET_ARN,
            "output_bucket_arn": OUTPUT_BUCKET_ARN,
            "import_role_arn": IMPORT_ROLE_ARN,
            "input_kms_key_arn": KEY_ARN,
            "output_kms_key_arn": KEY_ARN,
            "datastore_kms_key_arn": KEY_ARN,
            "personas": ["admin", "importer", "reader", "break-glass"],
            "role_principals": {"reader": [f"arn:aws:iam::{ACCOUNT}:user/alice", "444455556666"]},
            "identity_center_instance_arn": INSTANCE_ARN,
            "session_hours": 4,
            "admin_user_name": "ahiadmin",
            "tags": {"team": "imaging"},
        },
    ),
    "ImportJobAlerts": (
        ImportJobAlerts,
        {
            "account_id": ACCOUNT,
            "region": REGION,
            "name_prefix": "ahi-dev",
            "datastore_id": DATASTORE_ARN.rsplit("/", 1)[1],
            "datastore_arn": DATASTORE_ARN,
            "output_bucket_arn": OUTPUT_BUCKET_ARN,
            "output_kms_key_arn": KEY_ARN,
            "email_addresses": ["imaging-oncall@example.org"],
            "https_endpoints": ["https://alerts.example.org/healthimaging"],
            "sweep_lookback_hours": 48,
            "reserved_concurrency": 3,
            "log_retention_days": 731,
            "tags": {"team": "imaging"},
        },
    ),
    "AuditTrail": (
        AuditTrail,
        {
            "account_id": ACCOUNT,
            "region": REGION,
            "name_prefix": "ahi-dev",
            "input_bucket_arn": INPUT_BUCKET_ARN,
            "output_bucket_arn": OUTPUT_BUCKET_ARN,
            "datastore_arn": DATASTORE_ARN,
            "retention_days": 2557,
            "object_lock": True,
            "cloudwatch_logs": True,
            "cloudwatch_logs_retention_days": 400,
            "access_log_bucket_name": f"ahi-dev-log-{ACCOUNT}-{REGION}-an",
            "tags": {"team": "imaging"},
        },
    ),
    "AutoImport": (
        AutoImport,
        {
            "account_id": ACCOUNT,
            "region": REGION,
            "name_prefix": "ahi-dev",
            "datastore_id": DATASTORE_ARN.rsplit("/", 1)[1],
            "datastore_arn": DATASTORE_ARN,
            "import_role_arn": IMPORT_ROLE_ARN,
            "input_bucket_name": INPUT_BUCKET_ARN.rsplit(":", 1)[1],
            "input_bucket_arn": INPUT_BUCKET_ARN,
            "output_bucket_name": OUTPUT_BUCKET_ARN.rsplit(":", 1)[1],
            "output_bucket_arn": OUTPUT_BUCKET_ARN,
            "bucket_kms_key_arn": KEY_ARN,
            "alert_topic_arn": f"arn:aws:sns:{REGION}:{ACCOUNT}:ahi-dev-import-alerts",
            "alert_topic_kms_key_arn": KEY_ARN,
            "marker_name": "BATCH_DONE",
            "quiet_period_minutes": 15,
            "max_files_per_job": 10_000,
            "max_concurrent_jobs": 400,
            "concurrency": 4,
            "log_retention_days": 731,
            "tags": {"team": "imaging"},
        },
    ),
    "DicomwebAuthorizer": (
        DicomwebAuthorizer,
        {
            "account_id": ACCOUNT,
            "region": REGION,
            "name_prefix": "ahi-dev",
            "issuer": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example1",
            "audiences": ["viewer-client"],
            "personas": {"reader": ["radiology", "cardiology"], "admin": ["imaging-admins"]},
            "datastore_arn": DATASTORE_ARN,
            "provisioned_concurrency": 2,
            "reserved_concurrency": 20,
            "log_retention_days": 731,
            "tags": {"team": "imaging"},
        },
    ),
    "ImagingViewer": (
        ImagingViewer,
        {
            "account_id": ACCOUNT,
            "region": REGION,
            "name_prefix": "ahi-dev",
            "app_dir": str(FIXTURE_APP_DIR),
            "dicomweb_url": f"https://dicom-medical-imaging.{REGION}.amazonaws.com/datastore/{DATASTORE_ARN.rsplit('/', 1)[1]}",
            "log_bucket_arn": f"arn:aws:s3:::ahi-dev-log-{ACCOUNT}-{REGION}-an",
            "personas": {"reader": ["radiology", "cardiology"], "admin": ["imaging-admins"]},
            "custom_domain": "viewer.example.org",
            "certificate_arn": f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/0e2b5a3c-1d4f-4b6a-9c8d-7e6f5a4b3c2d",
            "web_acl_arn": f"arn:aws:wafv2:us-east-1:{ACCOUNT}:global/webacl/viewer/0e2b5a3c-1d4f-4b6a-9c8d-7e6f5a4b3c2d",
            "price_class": "PriceClass_200",
            "tags": {"team": "imaging"},
        },
    ),
}

SERVED = [component.__name__ for component in plugin()["COMPONENTS"]]


def wire_request(
    component: str, python_args: dict[str, Any], *, as_output_values: bool = True, name: str = "from-another-language"
) -> Any:
    """The request another language sends for ``python_args``: camelCase keys, numbers as floats, every
    ``Input`` field from a resource of the consumer's program (the first one secret)."""
    provider = build_provider()
    definition = provider._component_defs[component]
    inputs = schema_camel_case(python_args, provider, component)
    dependencies: dict[str, list[str]] = {}
    first = True
    for key, prop in definition.inputs.items():
        if key not in inputs or prop.plain:
            continue
        urn = consumer_urn("aws:index/thing:Thing", f"consumer-{key}")
        if as_output_values:
            inputs[key] = output_value(inputs[key], dependencies=[urn], secret=first)
        else:
            inputs[key] = secret_value(inputs[key]) if first else inputs[key]
            dependencies[key] = [urn]
        first = False
    return construct_request(f"healthimaging:index:{component}", name, inputs, dependencies)


def in_process(component: str, python_args: dict[str, Any], name: str = "from-another-language") -> mockrun.ProgramRun:
    cls = EXAMPLES[component][0]
    return run_in_process(lambda: cls(name, dict(python_args)))


def test_every_served_component_has_a_construct_example() -> None:
    missing = sorted(set(SERVED) - set(EXAMPLES))
    assert not missing, (
        f"add valid arguments for {missing} to EXAMPLES in tests/provider/test_provider_construct.py, using every kind of "
        "input the component has (integers, lists, maps, Input fields)"
    )


def test_every_served_component_has_its_rules_beside_it() -> None:
    provider = build_provider()
    without = sorted(name for name in SERVED if provider._validators.get(name) is None)
    assert not without, f"{without}: define exactly one validate_<subject>_args(args, names) in the component's module"


@pytest.mark.parametrize("as_output_values", [True, False], ids=["output-values", "input-dependencies"])
@pytest.mark.parametrize("component", sorted(EXAMPLES))
def test_construct_registers_what_python_registers(component: str, as_output_values: bool) -> None:
    python_args = EXAMPLES[component][1]
    request = wire_request(component, python_args, as_output_values=as_output_values)
    assert any(isinstance(v, float) for v in request.inputs.values()) or component in (
        "ImagingDatastore",
        "ImportJobRole",
        "ImagingViewer",  # no integer argument
    ), "integers must cross the wire as floats"

    wire_run, state = run_construct(request)
    python_run = in_process(component, python_args)

    assert registrations(wire_run) == registrations(python_run)
    assert wire_run.warnings == python_run.warnings
    assert len(wire_run.resources) > 1, "the component registered no children"

    # The component's outputs come back under their schema names, with the values the Python caller sees.
    definition = build_provider()._component_defs[component]
    assert set(state) <= set(definition.outputs)
    assert {k for k, p in definition.outputs.items() if not p.optional} <= set(state)


@pytest.mark.parametrize("component", ["ImportJobRole", "HealthImagingAccess"])
def test_inputs_from_other_resources_keep_their_dependencies_and_secrecy(component: str) -> None:
    request = wire_request(component, EXAMPLES[component][1])
    run, _ = run_construct(request)
    external = {u for r in run.resources for u in r.depends_on if "::consumer-" in u}
    # Every Input field's resource is a dependency of something the component registered.
    definition = build_provider()._component_defs[component]
    sent = {
        consumer_urn("aws:index/thing:Thing", f"consumer-{key}")
        for key, prop in definition.inputs.items()
        if not prop.plain and key in request.inputs
    }
    assert len(sent) >= 3
    assert sent == external
    # The secret input (the data store ARN) makes what is derived from it secret.
    secret_paths: set[str] = set()
    for resource in run.resources:
        unwrap_secrets(resource.inputs, resource.name, secret_paths)
    assert secret_paths, "a secret input reached no registration as a secret"


def test_integers_sent_as_floats_are_used_as_integers() -> None:
    access = EXAMPLES["HealthImagingAccess"][1]
    run, _ = run_construct(wire_request("HealthImagingAccess", access))
    permission_sets = run.by_type("aws:ssoadmin/permissionSet:PermissionSet")
    assert permission_sets
    assert {p.inputs["sessionDuration"] for p in permission_sets} == {"PT4H"}
    assert {r.inputs["maxSessionDuration"] for r in run.by_type("aws:iam/role:Role")} == {14400}

    pair = EXAMPLES["ImagingBucketPair"][1]
    run, _ = run_construct(wire_request("ImagingBucketPair", pair))
    assert any("EXPIRE after 3650 days" in w for w in run.warnings), run.warnings
    for lifecycle in run.by_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"):
        rules = {rule["id"]: rule for rule in lifecycle.inputs["rules"]}
        assert rules["expire-noncurrent-versions"]["noncurrentVersionExpiration"]["noncurrentDays"] == 30


def test_python_callers_may_pass_whole_floats_too() -> None:
    args = EXAMPLES["ImagingBucketPair"][1]
    as_floats = {**args, "noncurrent_version_expiration_days": 30.0, "current_version_expiration_days": 3650.0}
    assert registrations(in_process("ImagingBucketPair", as_floats)) == registrations(
        in_process("ImagingBucketPair", args)
    )
    access = {**EXAMPLES["HealthImagingAccess"][1], "session_hours": 4.0}
    assert registrations(in_process("HealthImagingAccess", access)) == registrations(
        in_process("HealthImagingAccess", EXAMPLES["HealthImagingAccess"][1])
    )


def _refusal(request: Any) -> InputPropertiesError:
    recorded: list[mockrun.PlannedResource] = []
    with pytest.raises(InputPropertiesError) as caught:
        run_construct(request, recorded)
    assert recorded == [], f"registered before refusing: {[r.name for r in recorded]}"
    return caught.value


@pytest.mark.parametrize(
    ("component", "key", "value", "shown"),
    [
        ("ImagingBucketPair", "noncurrent_version_expiration_days", 30.5, "30.5"),
        ("ImagingBucketPair", "current_version_expiration_days", 0.25, "0.25"),
        ("HealthImagingAccess", "session_hours", 1.5, "1.5"),
        ("HealthImagingAccess", "session_hours", "4", "'4'"),
        ("ImagingBucketPair", "noncurrent_version_expiration_days", [30], "[30.0]"),
    ],
)
def test_a_number_that_is_not_whole_is_refused_by_its_schema_name(
    component: str, key: str, value: Any, shown: str
) -> None:
    args = {**EXAMPLES[component][1], key: value}
    error = _refusal(wire_request(component, args))
    schema_name = {v: k for k, v in build_provider()._component_defs[component].inputs_mapping.items()}[key]
    assert [e["property_path"] for e in error.errors or []] == [schema_name]
    assert f"{schema_name} = {shown}" in error.message
    assert "nothing was created" in error.message


@pytest.mark.parametrize(
    ("component", "key"),
    [(component, key) for component in sorted(EXAMPLES) for key in ("account_id", "region")]
    + [
        ("ImagingBucketPair", "name_prefix"),
        ("ImagingDatastore", "datastore_name"),
        ("ImportJobRole", "datastore_arn"),
        ("ImportJobRole", "role_name"),
        ("HealthImagingAccess", "import_role_arn"),
    ],
)
def test_a_missing_required_input_is_refused_by_name(component: str, key: str) -> None:
    args = {k: v for k, v in EXAMPLES[component][1].items() if k != key}
    error = _refusal(wire_request(component, args))
    schema_name = {v: k for k, v in build_provider()._component_defs[component].inputs_mapping.items()}[key]
    assert [e["property_path"] for e in error.errors or []] == [schema_name]
    assert f"Missing required input '{schema_name}' on '{component}'" in error.message


def test_every_required_input_of_the_schema_is_checked() -> None:
    provider = build_provider()
    for component in EXAMPLES:
        definition = provider._component_defs[component]
        for schema_name, prop in definition.inputs.items():
            if prop.optional:
                continue
            inputs = schema_camel_case(EXAMPLES[component][1], provider, component)
            inputs.pop(schema_name)
            error = _refusal(construct_request(f"healthimaging:index:{component}", "missing", inputs))
            assert [e["property_path"] for e in error.errors or []] == [schema_name], (component, schema_name)


def test_the_components_rules_speak_the_callers_names() -> None:
    args = {**EXAMPLES["ImagingBucketPair"][1], "name_prefix": "Bad_Prefix", "encryption": "aes"}
    error = _refusal(wire_request("ImagingBucketPair", args))
    paths = [e["property_path"] for e in error.errors or []]
    assert paths == ["namePrefix", "encryption"]
    assert "namePrefix = 'Bad_Prefix'" in error.message
    assert "name_prefix" not in error.message
    # A Python caller gets the same rules under the Python names.
    with pytest.raises(InvalidInputError, match="name_prefix = 'Bad_Prefix'"):
        in_process("ImagingBucketPair", args)


def test_a_plain_input_that_arrives_as_an_output_is_refused() -> None:
    provider = build_provider()
    inputs = schema_camel_case(EXAMPLES["ImagingBucketPair"][1], provider, "ImagingBucketPair")
    urn = consumer_urn("aws:kms/key:Key", "consumer-key")
    inputs["kmsKeyArn"] = output_value(KEY_ARN, dependencies=[urn])
    inputs["protectData"] = secret_value(True)
    error = _refusal(construct_request("healthimaging:index:ImagingBucketPair", "plain", inputs))
    assert sorted(e["property_path"] for e in error.errors or []) == ["kmsKeyArn", "protectData"]
    assert "must be a plain value known before deployment" in error.message


def test_the_schema_types_integers_as_integer() -> None:
    provider = build_provider()
    integers = {
        (component, name)
        for component, definition in provider._component_defs.items()
        for name, prop in definition.inputs.items()
        if prop.type == PropertyType.INTEGER
    }
    assert {
        ("ImagingBucketPair", "noncurrentVersionExpirationDays"),
        ("ImagingBucketPair", "currentVersionExpirationDays"),
        ("HealthImagingAccess", "sessionHours"),
    } <= integers
