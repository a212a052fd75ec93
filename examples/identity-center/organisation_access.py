"""IAM Identity Center access to every imaging account of an organisation, from one stack.

Each imaging stack (this repository's program, one per account and region) creates the personas' customer
managed policies in its own account and exports them as ``accessPolicyArns`` (persona -> policy ARN) beside
``accountId``. This stack runs in the Identity Center administration account (the management account or a
delegated administrator) and:

- reads every imaging stack's outputs through a ``StackReference``;
- creates one permission set per persona, once, in the Identity Center instance, attaching the persona's
  policy as a *customer managed policy reference* (name and path, resolved in each account it is provisioned
  to), so all imaging stacks must give a persona's policy the same name and path (``accessNamePrefix`` and
  ``iamPath`` alike in every imaging stack; IAM names are per account, so that is safe);
- assigns the configured Identity Center groups to those permission sets in each imaging account
  (``aws.ssoadmin.AccountAssignment``).

Configuration is checked before anything is declared; the policy references are checked when the imaging
stacks' outputs arrive, and every resource here depends on that check, so a disagreement creates nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
from healthimaging_setup.access_policies import PERSONA_DESCRIPTIONS, PERSONAS
from healthimaging_setup.validation import (
    InvalidInputError,
    identity_center_instance_arn_problems,
    raise_if_problems,
    whole_number,
    whole_number_problems,
)

#: Longest session IAM Identity Center permission sets accept, in hours.
MAX_SESSION_HOURS = 12
#: A customer managed policy ARN: partition, account, path (``/`` or ``/a/b/``) and name.
_POLICY_ARN = re.compile(r"arn:(aws[a-z-]*):iam::(\d{12}):policy(/(?:[\w+=,.@-]+/)*)([\w+=,.@-]{1,128})")
#: A fully qualified stack name, ``<organisation>/<project>/<stack>``.
_STACK_NAME = re.compile(r"[\w.-]+/[\w.-]+/[\w.-]+")
#: An identity store group ID (a UUID, optionally after a 10-character store prefix and a hyphen).
_GROUP_ID = re.compile(r"(?:[0-9a-f]{10}-)?[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")


@dataclass(frozen=True)
class ImagingStack:
    """One imaging stack and the Identity Center group that gets each persona in its account."""

    stack: str
    groups: Mapping[str, str]


@dataclass(frozen=True)
class PolicyReference:
    """A customer managed policy as a permission set names it."""

    name: str
    path: str


@dataclass(frozen=True)
class OrganisationSettings:
    instance_arn: str
    imaging_stacks: tuple[ImagingStack, ...]
    session_hours: int

    @property
    def personas(self) -> list[str]:
        """The personas some group gets somewhere, in the components' persona order."""
        used = {persona for stack in self.imaging_stacks for persona in stack.groups}
        return [persona for persona in PERSONAS if persona in used]


def settings_problems(instance_arn: Any, imaging_stacks: Any, session_hours: Any) -> list[str]:
    """Every problem with this stack's configuration, as sentences naming the key."""
    problems = identity_center_instance_arn_problems("instanceArn", instance_arn)
    problems += whole_number_problems("sessionHours", session_hours, 1, MAX_SESSION_HOURS)
    if not isinstance(imaging_stacks, list) or not imaging_stacks:
        return [
            *problems,
            "imagingStacks: give a list of imaging stacks, each {stack: <organisation>/<project>/<stack>, "
            "groups: {<persona>: <Identity Center group ID>}}.",
        ]
    seen: set[str] = set()
    for index, entry in enumerate(imaging_stacks):
        where = f"imagingStacks[{index}]"
        if not isinstance(entry, dict):
            problems.append(f"{where} = {entry!r}: give {{stack: ..., groups: {{...}}}}.")
            continue
        stack = entry.get("stack")
        if not isinstance(stack, str) or not _STACK_NAME.fullmatch(stack):
            problems.append(
                f"{where}.stack = {stack!r}: give the imaging stack's fully qualified name, "
                "<organisation>/<project>/<stack>, for example acme/healthimaging-setup/prod."
            )
        elif stack in seen:
            problems.append(f"{where}.stack = {stack!r} is listed twice; list each imaging stack once.")
        else:
            seen.add(stack)
        groups = entry.get("groups")
        if not isinstance(groups, dict) or not groups:
            problems.append(
                f"{where}.groups = {groups!r}: give at least one persona and the Identity Center group ID that "
                "gets it, for example {reader: 906755c3b2-1234abcd-12ab-34cd-56ef-1234567890ab}."
            )
            continue
        for persona, group_id in groups.items():
            if persona not in PERSONAS:
                problems.append(
                    f"{where}.groups names the persona {persona!r}, which does not exist; the personas are "
                    f"{', '.join(PERSONAS)}."
                )
            if not isinstance(group_id, str) or not _GROUP_ID.fullmatch(group_id):
                problems.append(
                    f"{where}.groups.{persona} = {group_id!r} is not an Identity Center group ID; "
                    "`aws identitystore list-groups --identity-store-id <id>` prints them."
                )
    return problems


def load_settings(config: pulumi.Config) -> OrganisationSettings:
    """This stack's configuration, checked; raises :class:`InvalidInputError` listing every problem."""
    instance_arn = config.get("instanceArn")
    imaging_stacks = config.get_object("imagingStacks")
    session_hours = config.get_object("sessionHours", 1)
    raise_if_problems(
        f"Configuration of stack {pulumi.get_stack()!r}",
        settings_problems(instance_arn, imaging_stacks, session_hours),
    )
    assert isinstance(instance_arn, str)
    assert isinstance(imaging_stacks, list)
    hours = whole_number(session_hours)
    assert hours is not None
    return OrganisationSettings(
        instance_arn=instance_arn,
        imaging_stacks=tuple(ImagingStack(stack=e["stack"], groups=dict(e["groups"])) for e in imaging_stacks),
        session_hours=hours,
    )


def policy_reference(arn: str) -> PolicyReference:
    """The name and path of a customer managed policy, from its ARN."""
    match = _POLICY_ARN.fullmatch(arn)
    if not match:
        raise ValueError(f"{arn!r} is not a customer managed policy ARN")
    return PolicyReference(name=match.group(4), path=match.group(3))


def agreed_reference(persona: str, arns_by_stack: Mapping[str, Mapping[str, str] | None]) -> PolicyReference:
    """The one policy reference every imaging stack that grants ``persona`` has for it.

    Raises :class:`InvalidInputError` when a stack exports no policy for the persona or when the stacks
    name it differently (a permission set references one name and path, resolved in each account).
    """
    problems: list[str] = []
    references: dict[str, PolicyReference] = {}
    for stack, arns in arns_by_stack.items():
        arn = (arns or {}).get(persona)
        if not arn:
            problems.append(
                f"Imaging stack {stack!r} exports no {persona!r} policy in accessPolicyArns: add {persona!r} to its "
                "accessPersonas and run `pulumi up` on it first, or remove the assignment here."
            )
            continue
        references[stack] = policy_reference(arn)
    distinct = sorted({(r.path, r.name) for r in references.values()})
    if len(distinct) > 1:
        listed = "; ".join(f"{stack}: {r.path}{r.name}" for stack, r in references.items())
        problems.append(
            f"The imaging stacks name the {persona!r} policy differently ({listed}). A permission set references "
            "one policy name and path in every account: give those stacks the same accessNamePrefix and iamPath."
        )
    raise_if_problems(f"Persona {persona!r}", problems)
    (path, name) = distinct[0]
    return PolicyReference(name=name, path=path)


@dataclass
class OrganisationAccess:
    permission_set_arns: dict[str, pulumi.Output[str]]
    assignments: list[aws.ssoadmin.AccountAssignment]


def declare(settings: OrganisationSettings, opts: pulumi.ResourceOptions | None = None) -> OrganisationAccess:
    """The stack references, one permission set per persona, and one account assignment per stack and persona."""
    references = {
        stack.stack: pulumi.StackReference(f"imaging-{_short(stack.stack)}", stack_name=stack.stack, opts=opts)
        for stack in settings.imaging_stacks
    }
    policy_arns = {stack: ref.require_output("accessPolicyArns") for stack, ref in references.items()}

    permission_sets: dict[str, aws.ssoadmin.PermissionSet] = {}
    attachments: dict[str, aws.ssoadmin.CustomerManagedPolicyAttachment] = {}
    # Every persona's policy reference is agreed before any permission set can be created: one that the stacks
    # name differently stops the run with nothing created, not after the personas that agree.
    per_persona = []
    for persona in settings.personas:
        granting = [s.stack for s in settings.imaging_stacks if persona in s.groups]
        arns = pulumi.Output.all(*[policy_arns[stack] for stack in granting])
        per_persona.append(arns.apply(_agreed_reference_of(persona, granting)))
    agreed: pulumi.Output[list[PolicyReference]] = pulumi.Output.all(*per_persona)
    for index, persona in enumerate(settings.personas):
        reference = agreed.apply(_item(index))
        permission_set = aws.ssoadmin.PermissionSet(
            f"{persona}-permission-set",
            instance_arn=settings.instance_arn,
            # The permission set takes the policy's name: created only once the stacks agree on it.
            name=reference.apply(lambda r: r.name),
            description=PERSONA_DESCRIPTIONS[persona].replace("this stack's", "each imaging account's"),
            session_duration=f"PT{settings.session_hours}H",
            opts=opts,
        )
        attachments[persona] = aws.ssoadmin.CustomerManagedPolicyAttachment(
            f"{persona}-policy-reference",
            instance_arn=settings.instance_arn,
            permission_set_arn=permission_set.arn,
            customer_managed_policy_reference={
                "name": reference.apply(lambda r: r.name),
                "path": reference.apply(lambda r: r.path),
            },
            opts=opts,
        )
        permission_sets[persona] = permission_set

    assignments: list[aws.ssoadmin.AccountAssignment] = []
    for stack in settings.imaging_stacks:
        account_id = references[stack.stack].require_output("accountId")
        for persona, group_id in stack.groups.items():
            assignments.append(
                aws.ssoadmin.AccountAssignment(
                    f"{_short(stack.stack)}-{persona}-assignment",
                    instance_arn=settings.instance_arn,
                    permission_set_arn=permission_sets[persona].arn,
                    principal_type="GROUP",
                    principal_id=group_id,
                    target_type="AWS_ACCOUNT",
                    target_id=account_id,
                    # Provisioned with the policy reference in place, never without it.
                    opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[attachments[persona]])),
                )
            )
    return OrganisationAccess(
        permission_set_arns={persona: ps.arn for persona, ps in permission_sets.items()}, assignments=assignments
    )


def _item(index: int) -> Callable[[list[PolicyReference]], PolicyReference]:
    return lambda references: references[index]


def _agreed_reference_of(persona: str, stacks: list[str]) -> Callable[[list[Any]], PolicyReference]:
    """The function that checks the stacks' ``accessPolicyArns`` (in ``stacks`` order) once they arrive."""

    def check(arns: list[Any]) -> PolicyReference:
        return agreed_reference(persona, dict(zip(stacks, arns, strict=True)))

    return check


def _short(stack: str) -> str:
    """``acme/healthimaging-setup/prod`` -> ``healthimaging-setup-prod``: unique per stack, readable in a plan."""
    _, project, name = stack.split("/")
    return f"{project}-{name}"


__all__ = [
    "ImagingStack",
    "InvalidInputError",
    "OrganisationAccess",
    "OrganisationSettings",
    "PolicyReference",
    "agreed_reference",
    "declare",
    "load_settings",
    "policy_reference",
    "settings_problems",
]
