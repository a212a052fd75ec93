"""Customer managed KMS keys, created the same way everywhere in this project."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from ._resource_options import child_options
from .policies import PolicyDocument

#: Days KMS waits before deleting a key scheduled for deletion: the maximum, so a mistaken
#: deletion can be cancelled for as long as possible (Security Hub KMS.3).
KEY_DELETION_WINDOW_DAYS = 30


def customer_managed_key(
    name: str,
    *,
    parent: pulumi.Resource,
    description: str,
    policy: PolicyDocument,
    alias: str,
    protect_data: bool,
    tags: dict[str, str] | None = None,
) -> aws.kms.Key:
    """A symmetric encryption key with rotation on, a 30-day deletion window and the given policy.

    The lockout safety check is never bypassed. An alias (``alias/<alias>``) names the key for people;
    resources reference the key by its ARN, never by the alias.
    """
    key = aws.kms.Key(
        name,
        description=description,
        key_usage="ENCRYPT_DECRYPT",
        customer_master_key_spec="SYMMETRIC_DEFAULT",
        enable_key_rotation=True,
        deletion_window_in_days=KEY_DELETION_WINDOW_DAYS,
        bypass_policy_lockout_safety_check=False,
        policy=json.dumps(policy),
        tags=tags,
        opts=child_options(parent, protect_data=protect_data),
    )
    aws.kms.Alias(
        f"{name}-alias",
        name=f"alias/{alias}",
        target_key_id=key.key_id,
        opts=child_options(parent),
    )
    return key


def supplied_or_created_key_arn(
    name: str,
    *,
    parent: pulumi.Resource,
    supplied_arn: str | None,
    description: str,
    policy: PolicyDocument,
    alias: str,
    protect_data: bool,
    tags: dict[str, str] | None = None,
) -> pulumi.Input[str]:
    """The ARN of the caller's key when one is supplied, else of a key created here (see :func:`customer_managed_key`)."""
    if supplied_arn:
        return supplied_arn
    key = customer_managed_key(
        name,
        parent=parent,
        description=description,
        policy=policy,
        alias=alias,
        protect_data=protect_data,
        tags=tags,
    )
    return key.arn
