"""Each default and each rule lives once, next to its component; the stack settings derive from them."""

from __future__ import annotations

import ast
import json
import re
from typing import Any

import pytest

from components._source import parse_source
from components.access import ACCESS_DEFAULTS
from components.audit_trail import AUDIT_TRAIL_DEFAULTS
from components.auto_import import AUTO_IMPORT_DEFAULTS
from components.bucket_pair import BUCKET_PAIR_DEFAULTS
from components.datastore import DATASTORE_DEFAULTS
from components.import_alerts import IMPORT_ALERTS_DEFAULTS
from components.import_role import IMPORT_ROLE_DEFAULTS
from components.secure_bucket import SECURE_BUCKET_DEFAULTS
from components.viewer_options import VIEWER_DEFAULTS
from program.settings import read_settings
from program.settings_spec import COMPONENT_DEFAULTS, FROM_COMPONENT, SETTINGS_SPEC, Setting
from testkit.mock_runs import PROJECT_DIR

COMPONENTS_DIR = PROJECT_DIR / "components"
ACCOUNT = "111122223333"
VALID = {"accountId": ACCOUNT, "region": "us-east-1"}

ARGS_CLASSES = [
    ("secure_bucket.py", "SecureBucketArgs", SECURE_BUCKET_DEFAULTS),
    ("bucket_pair.py", "ImagingBucketPairArgs", BUCKET_PAIR_DEFAULTS),
    ("datastore.py", "ImagingDatastoreArgs", DATASTORE_DEFAULTS),
    ("import_role.py", "ImportJobRoleArgs", IMPORT_ROLE_DEFAULTS),
    ("access.py", "HealthImagingAccessArgs", ACCESS_DEFAULTS),
    ("import_alerts.py", "ImportJobAlertsArgs", IMPORT_ALERTS_DEFAULTS),
    ("audit_trail.py", "AuditTrailArgs", AUDIT_TRAIL_DEFAULTS),
    ("auto_import.py", "AutoImportArgs", AUTO_IMPORT_DEFAULTS),
    ("imaging_viewer.py", "ImagingViewerArgs", VIEWER_DEFAULTS),
]


def field_docstrings(module: str, class_name: str) -> dict[str, str]:
    """The docstring under each field of a TypedDict, read from the source (as Pulumi's schema inference does)."""
    tree = parse_source((COMPONENTS_DIR / module).read_text())
    cls = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == class_name)
    docs: dict[str, str] = {}
    for field, doc in zip(cls.body, cls.body[1:], strict=False):
        named = isinstance(field, ast.AnnAssign) and isinstance(field.target, ast.Name)
        if named and isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant):
            docs[field.target.id] = str(doc.value.value)  # type: ignore[union-attr]
    return docs


def documented_default(doc: str) -> Any:
    match = re.match(r"Default: (?:``(?P<code>.+?)``|(?P<word>[^\s.:,]+))", doc)
    assert match, f"docstring does not start with 'Default: ': {doc[:60]!r}"
    if match["code"] is not None:
        try:
            return json.loads(match["code"])
        except json.JSONDecodeError:
            return match["code"]
    word = match["word"]
    return {"True": True, "False": False, "none": None}.get(word, int(word) if word.isdigit() else word)


@pytest.mark.parametrize(("module", "class_name", "defaults"), ARGS_CLASSES)
def test_every_documented_default_is_the_one_the_code_uses(
    module: str, class_name: str, defaults: dict[str, Any]
) -> None:
    docs = field_docstrings(module, class_name)
    for argument, default in defaults.items():
        assert argument in docs, f"{class_name}.{argument} has no docstring"
        assert documented_default(docs[argument]) == default, f"{class_name}.{argument}"


def test_settings_that_feed_a_component_take_its_default() -> None:
    checked = 0
    for setting in SETTINGS_SPEC:
        for feed in setting.feeds:
            component, _, argument = feed.partition(".")
            if argument in COMPONENT_DEFAULTS[component]:
                assert setting.default == COMPONENT_DEFAULTS[component][argument], setting.key
                checked += 1
    assert checked >= 15


def test_a_changed_component_default_changes_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(BUCKET_PAIR_DEFAULTS, "noncurrent_version_expiration_days", 45)
    derived = Setting(
        "noncurrentVersionExpirationDays",
        "integer",
        FROM_COMPONENT,
        "x",
        feeds=("bucket_pair.noncurrent_version_expiration_days",),
    )
    assert derived.default == 45


def test_every_setting_feeds_a_component_argument_that_exists() -> None:
    for setting in SETTINGS_SPEC:
        for feed in setting.feeds:
            component, _, argument = feed.partition(".")
            module, class_name, _ = next(a for a in ARGS_CLASSES if a[2] is COMPONENT_DEFAULTS[component])
            assert argument in field_docstrings(module, class_name), f"{setting.key} feeds {feed}"


# --- The rules run once, as the component's, and every problem is reported -------------------------


def problems_of(stack: str = "dev", **values: str) -> list[str]:
    raw = {**VALID, **values}
    return read_settings("healthimaging-setup", stack, lambda key: raw.get(key))[1]


def test_a_type_error_does_not_hide_the_other_problems() -> None:
    problems = problems_of(region="eu-central-1", outputBucketName="Bad_Name", versioning="maybe")
    assert len(problems) == 3, problems
    assert problems[0] == "versioning = 'maybe': expected true or false."
    assert any(p.startswith("region = 'eu-central-1' is not a region where AWS HealthImaging runs") for p in problems)
    assert any(p.startswith("outputBucketName = 'Bad_Name' is not a valid S3 bucket name") for p in problems)


def test_a_missing_required_key_is_reported_once_beside_the_other_problems() -> None:
    problems = read_settings("healthimaging-setup", "dev", {"region": "us-east-1", "namePrefix": "X"}.get)[1]
    assert [p.split(" ")[0] for p in problems] == ["accountId", "namePrefix"]


def test_a_problem_shared_by_several_components_is_reported_once() -> None:
    problems = problems_of(accountId="12345")
    assert len(problems) == 1
    assert problems[0].startswith("accountId = '12345' has 5 digits")


def test_a_prefix_derived_from_the_stack_name_says_so_and_what_to_set() -> None:
    (problem,) = problems_of(stack="prod_eu")
    assert problem.startswith("namePrefix (not set, so derived from the stack name 'prod_eu') = 'ahi-prod_eu':")
    assert problem.endswith("Set namePrefix, for example 'ahi-prod-eu'.")


def test_a_long_stack_name_makes_a_prefix_too_long_and_says_so() -> None:
    problems = problems_of(stack="radiology-department-production")
    assert problems
    for problem in problems:
        assert "derived from the stack name 'radiology-department-production'" in problem
        assert problem.endswith("Set namePrefix, for example 'ahi-radiology-department'.")


def test_an_explicit_bucket_name_equal_to_a_generated_one_is_refused() -> None:
    generated_output = f"ahi-dev-output-{ACCOUNT}-us-east-1-an"
    (problem,) = problems_of(namePrefix="ahi-dev", inputBucketName=generated_output)
    assert problem == (
        f"inputBucketName (set) and outputBucketName (generated) are both {generated_output!r}: the input, output "
        "and log buckets must be different buckets. Choose another inputBucketName."
    )


def test_a_generated_log_bucket_name_is_compared_only_when_access_logging_is_on() -> None:
    generated_log = f"ahi-dev-log-{ACCOUNT}-us-east-1-an"
    assert problems_of(namePrefix="ahi-dev", outputBucketName=generated_log)
    assert problems_of(namePrefix="ahi-dev", outputBucketName=generated_log, accessLogging="false") == []


def test_component_and_stack_apply_the_same_region_rule() -> None:
    from components.datastore import validate_datastore_args

    component = validate_datastore_args({"account_id": ACCOUNT, "region": "eu-central-1", "datastore_name": "d"})
    stack = problems_of(region="eu-central-1")
    assert len(component) == len(stack) == 1
    assert component[0].replace("allow_unlisted_region", "allowUnlistedRegion") == stack[0]


def test_the_suggested_prefix_fits_every_name_built_from_it() -> None:
    problems = problems_of(
        stack="radiology-production1", accessIdentityCenterInstanceArn="arn:aws:sso:::instance/ssoins-0123456789abcdef"
    )
    assert problems
    suggestion = problems[0].rsplit("for example ", 1)[1].strip("'.")
    assert suggestion == "ahi-radiology-productio"
    assert (
        problems_of(
            namePrefix=suggestion, accessIdentityCenterInstanceArn="arn:aws:sso:::instance/ssoins-0123456789abcdef"
        )
        == []
    )


def test_a_name_built_from_a_derived_prefix_says_where_the_prefix_came_from() -> None:
    stack = "a" * 45
    problems = problems_of(stack=stack, namePrefix=None)  # type: ignore[arg-type]
    role = [p for p in problems if p.startswith("importRoleName")]
    assert len(role) == 1
    assert f"with namePrefix derived from the stack name {stack!r}" in role[0]
    assert role[0].endswith("Set namePrefix, for example 'ahi-aaaaaaaaaaaaaaaaaaaa'.")


def test_a_rule_that_reads_an_unreadable_key_stays_quiet() -> None:
    problems = problems_of(disposableStack="yes", forceDestroyBuckets="true")
    assert problems == ["disposableStack = 'yes': expected true or false."]
