"""The organisation stack (examples/identity-center/) under Pulumi's mocks, fed the real imaging program's outputs.

The dev and prod imaging stacks are this repository's program run under mocks with their stack files; their
``accountId`` and ``accessPolicyArns`` outputs are what the organisation stack's ``StackReference``s read.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import components
import components.access_policies
import components.validation
from ahictl import mockrun
from components.validation import InvalidInputError
from testkit.mock_runs import PROJECT, PROJECT_DIR

EXAMPLE = PROJECT_DIR / "examples" / "identity-center"
ORG_PROJECT = "healthimaging-identity-center"
INSTANCE = "arn:aws:sso:::instance/ssoins-1234567890abcdef"
DEV_STACK = "acme/healthimaging-setup/dev"
PROD_STACK = "acme/healthimaging-setup/prod"
GROUP_ADMINS = "906755c3b2-11111111-1111-1111-1111-111111111111"
GROUP_IMPORTERS = "906755c3b2-22222222-2222-2222-2222-222222222222"
GROUP_READERS = "906755c3b2-33333333-3333-3333-3333-333333333333"
#: The same persona policy names and path in both imaging accounts, as the example's README asks.
SHARED_NAMING = {"accessNamePrefix": "ahi", "iamPath": "/healthimaging/"}


@pytest.fixture(autouse=True)
def installed_package_name(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The example imports the components as the installed package ``healthimaging_setup`` (tests/project/test_wheel.py
    proves that package is components/); here the checkout's modules stand in under that name."""
    monkeypatch.setitem(sys.modules, "healthimaging_setup", components)
    monkeypatch.setitem(sys.modules, "healthimaging_setup.validation", components.validation)
    monkeypatch.setitem(sys.modules, "healthimaging_setup.access_policies", components.access_policies)
    yield
    sys.modules.pop("organisation_access", None)


def stack_file_config(stack: str, **overrides: Any) -> dict[str, str]:
    """``Pulumi.<stack>.yaml`` of the imaging program as the engine passes it (strings; structures as JSON)."""
    document = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())
    values = dict(document["config"])
    values.update({f"{PROJECT}:{key}": value for key, value in overrides.items()})
    return {key: _engine_string(value) for key, value in values.items()}


def _engine_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def imaging_outputs(stack: str, **overrides: Any) -> dict[str, Any]:
    config = stack_file_config(stack, **overrides)
    run = mockrun.run(
        PROJECT_DIR / "__main__.py",
        config=config,
        project=PROJECT,
        stack=stack,
        account_id=config[f"{PROJECT}:accountId"],
        region=config[f"{PROJECT}:region"],
    )
    return run.outputs


def run_organisation(
    monkeypatch: pytest.MonkeyPatch,
    stack_outputs: dict[str, dict[str, Any]],
    imaging_stacks: list[dict[str, Any]],
    recorded: list[mockrun.PlannedResource] | None = None,
    **config: Any,
) -> mockrun.ProgramRun:
    """Run the organisation stack's program with StackReferences answering ``stack_outputs``."""

    class OrganisationMocks(mockrun.PlanMocks):
        def new_resource(self, args: Any) -> tuple[str | None, dict[str, Any]]:
            if args.typ == "pulumi:pulumi:StackReference":
                name = args.inputs["name"]
                if name not in stack_outputs:
                    raise LookupError(f"no such stack: {name}")
                return name, {"name": name, "outputs": stack_outputs[name], "secretOutputNames": []}
            return super().new_resource(args)

    monkeypatch.setattr(mockrun, "PlanMocks", OrganisationMocks)
    values = {"instanceArn": INSTANCE, "imagingStacks": imaging_stacks, **config}
    return mockrun.run(
        EXAMPLE / "__main__.py",
        config={f"{ORG_PROJECT}:{key}": _engine_string(value) for key, value in values.items()},
        project=ORG_PROJECT,
        stack="org",
        recorded=recorded,
    )


def example_stacks() -> list[dict[str, Any]]:
    document = yaml.safe_load((EXAMPLE / "Pulumi.org.yaml").read_text())
    stacks: list[dict[str, Any]] = document["config"][f"{ORG_PROJECT}:imagingStacks"]
    return stacks


@pytest.fixture(scope="module")
def shared_naming_outputs() -> dict[str, dict[str, Any]]:
    return {
        DEV_STACK: imaging_outputs("dev", **SHARED_NAMING),
        PROD_STACK: imaging_outputs("prod", **SHARED_NAMING),
    }


def test_permission_sets_once_and_one_assignment_per_account_and_persona(
    monkeypatch: pytest.MonkeyPatch, shared_naming_outputs: dict[str, dict[str, Any]]
) -> None:
    run = run_organisation(monkeypatch, shared_naming_outputs, example_stacks(), sessionHours=4)

    permission_sets = run.by_type("aws:ssoadmin/permissionSet:PermissionSet")
    assert sorted(p.inputs["name"] for p in permission_sets) == ["ahi-admin", "ahi-importer", "ahi-reader"]
    assert {p.inputs["sessionDuration"] for p in permission_sets} == {"PT4H"}
    assert {p.inputs["instanceArn"] for p in permission_sets} == {INSTANCE}

    references = run.by_type("aws:ssoadmin/customerManagedPolicyAttachment:CustomerManagedPolicyAttachment")
    assert sorted(
        (r.inputs["customerManagedPolicyReference"]["name"], r.inputs["customerManagedPolicyReference"]["path"])
        for r in references
    ) == [("ahi-admin", "/healthimaging/"), ("ahi-importer", "/healthimaging/"), ("ahi-reader", "/healthimaging/")]

    assignments = run.by_type("aws:ssoadmin/accountAssignment:AccountAssignment")
    dev_account = shared_naming_outputs[DEV_STACK]["accountId"]
    prod_account = shared_naming_outputs[PROD_STACK]["accountId"]
    assert dev_account != prod_account
    permission_set_of = {p.outputs["arn"]: p.inputs["name"] for p in permission_sets}
    granted = sorted(
        (a.inputs["targetId"], permission_set_of[a.inputs["permissionSetArn"]], a.inputs["principalId"])
        for a in assignments
    )
    assert granted == sorted(
        [
            (dev_account, "ahi-admin", GROUP_ADMINS),
            (dev_account, "ahi-importer", GROUP_IMPORTERS),
            (dev_account, "ahi-reader", GROUP_READERS),
            (prod_account, "ahi-admin", GROUP_ADMINS),
            (prod_account, "ahi-reader", GROUP_READERS),
        ]
    )
    assert {(a.inputs["principalType"], a.inputs["targetType"]) for a in assignments} == {("GROUP", "AWS_ACCOUNT")}
    # Each assignment is provisioned after its permission set references the policy.
    reference_urns = {r.urn for r in references}
    assert all(set(a.depends_on) & reference_urns for a in assignments)
    assert run.outputs["assignmentCount"] == 5


def test_stacks_that_name_a_persona_policy_differently_create_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    # The example stack files as they are: ahi-dev-admin at / in dev, ahi-prod-admin at /healthimaging/ in prod.
    outputs = {DEV_STACK: imaging_outputs("dev"), PROD_STACK: imaging_outputs("prod")}
    recorded: list[mockrun.PlannedResource] = []
    with pytest.raises(Exception, match=r"name the '[a-z-]+' policy differently") as caught:
        run_organisation(monkeypatch, outputs, example_stacks(), recorded)
    assert "same accessNamePrefix and iamPath" in str(caught.value)
    assert [r.type for r in recorded if not r.type.startswith("pulumi:")] == []


def test_a_persona_an_imaging_stack_does_not_export_creates_nothing(
    monkeypatch: pytest.MonkeyPatch, shared_naming_outputs: dict[str, dict[str, Any]]
) -> None:
    stacks = [{"stack": DEV_STACK, "groups": {"break-glass": GROUP_ADMINS}}]
    recorded: list[mockrun.PlannedResource] = []
    with pytest.raises(Exception, match="exports no 'break-glass' policy"):
        run_organisation(monkeypatch, shared_naming_outputs, stacks, recorded)
    assert [r.type for r in recorded if not r.type.startswith("pulumi:")] == []


def test_bad_configuration_is_refused_before_anything_is_declared(monkeypatch: pytest.MonkeyPatch) -> None:
    stacks = [
        {"stack": DEV_STACK, "groups": {"admins": GROUP_ADMINS, "reader": "readers"}},
        {"stack": DEV_STACK, "groups": {"reader": GROUP_READERS}},
        {"stack": "prod", "groups": {}},
    ]
    recorded: list[mockrun.PlannedResource] = []
    with pytest.raises(InvalidInputError) as caught:
        run_organisation(monkeypatch, {}, stacks, recorded, instanceArn="ssoins-1", sessionHours=24)
    problems = "\n".join(caught.value.problems)
    for expected in (
        "instanceArn = 'ssoins-1'",
        "sessionHours = 24",
        "the persona 'admins', which does not exist",
        "imagingStacks[0].groups.reader = 'readers' is not an Identity Center group ID",
        f"imagingStacks[1].stack = '{DEV_STACK}' is listed twice",
        "imagingStacks[2].stack = 'prod'",
        "imagingStacks[2].groups = {}",
    ):
        assert expected in problems
    assert [r for r in recorded if not r.type.startswith("pulumi:")] == []


def test_the_policy_reference_is_read_from_the_arn(monkeypatch: pytest.MonkeyPatch) -> None:
    # The example's own module, loaded from its file: the example is a project of its own, not a package of this one.
    spec = importlib.util.spec_from_file_location("organisation_access", EXAMPLE / "organisation_access.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # its dataclasses look their module up while they are built
    spec.loader.exec_module(module)
    PolicyReference, policy_reference = module.PolicyReference, module.policy_reference  # noqa: N806
    assert policy_reference("arn:aws:iam::111122223333:policy/ahi-admin") == PolicyReference("ahi-admin", "/")
    assert policy_reference("arn:aws:iam::444455556666:policy/healthimaging/team/ahi-reader") == PolicyReference(
        "ahi-reader", "/healthimaging/team/"
    )
    with pytest.raises(ValueError, match="not a customer managed policy ARN"):
        policy_reference("arn:aws:iam::444455556666:role/ahi-reader")


def test_the_readme_documents_the_deployment_order() -> None:
    readme = (EXAMPLE / "README.md").read_text()
    assert "## Deployment order" in readme
    order = readme.split("## Deployment order", 1)[1]
    assert order.index("dev") < order.index("organisation stack")
    assert "accessNamePrefix" in readme
    assert Path(EXAMPLE / "Pulumi.org.yaml").is_file()
