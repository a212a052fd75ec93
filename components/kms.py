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
    policy_managed_by_key_policy: bool = False,
) -> aws.kms.Key:
    """A symmetric encryption key with rotation on, a 30-day deletion window and the given policy.

    The lockout safety check is never bypassed. An alias (``alias/<alias>``) names the key for people;
    resources reference the key by its ARN, never by the alias.

    ``policy_managed_by_key_policy``: the key is created with ``policy``, and from then on an
    ``aws.kms.KeyPolicy`` (:func:`key_policy`) owns the key's policy. pulumi-aws documents that setting a
    key's policy both on ``aws.kms.Key`` and with ``aws.kms.KeyPolicy`` makes the two overwrite each other:
    every update of the key would put the creation policy back, and every refresh would report the
    KeyPolicy's statements as drift. So the key ignores changes to ``policy`` after creation. The key is
    still created with an explicit policy (not KMS's default one), so it is never without a reviewed policy.
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
        opts=child_options(
            parent, protect_data=protect_data, ignore_changes=["policy"] if policy_managed_by_key_policy else None
        ),
    )
    aws.kms.Alias(
        f"{name}-alias",
        name=f"alias/{alias}",
        target_key_id=key.key_id,
        opts=child_options(parent),
    )
    return key


def key_policy(
    name: str,
    *,
    parent: pulumi.Resource,
    key: aws.kms.Key,
    policy: pulumi.Input[str],
    protect_data: bool,
) -> aws.kms.KeyPolicy:
    """The whole policy of ``key`` (a JSON document), set after the key exists and owned from then on by this
    resource (create the key with ``policy_managed_by_key_policy=True``). Protected and retained like the key:
    deleting it would put KMS's default policy back on the key. The lockout safety check is never bypassed."""
    return aws.kms.KeyPolicy(
        name,
        key_id=key.key_id,
        policy=policy,
        bypass_policy_lockout_safety_check=False,
        opts=child_options(parent, protect_data=protect_data),
    )


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
