"""Bucket policies as S3 judges them, in the moto that runs in this process.

moto 5.2.5 judges a bucket policy without its conditions (``FakeBucket.get_permission``): the program's TLS-only
statements (Deny unless ``aws:SecureTransport``, Deny below ``s3:TlsVersion`` 1.2) would then deny every object read
and write. The sandbox decides instead with :mod:`sandbox.policy_evaluator`, conditions included, and treats
its loopback HTTP as the TLS endpoint it stands in for: every request is judged with ``aws:SecureTransport`` true
and ``s3:TlsVersion`` 1.3, by the bucket owner's account (``arn:aws:iam::<account>:root``). So the stack's own
bucket policies are deployed as they are and still let the stack's users in, and a policy that denies them
(a Deny without a condition, a condition that does not hold) denies here too.

moto's ``PutBucketLogging`` also fails (500) when the target bucket's policy has a statement whose Principal is
``"*"``, as the TLS-only statements have; the sandbox's version of that check skips such statements.

:func:`install` patches moto's classes in this process once; every moto server started by the sandbox calls it.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from moto.iam.access_control import PermissionResult
from moto.s3 import models as s3_models

from .policy_evaluator import ALLOWED, EXPLICIT_DENY, PolicySource, Request, UnsupportedPolicyError, evaluate

#: The request context of every S3 request the sandbox judges (its loopback stands in for AWS's TLS endpoints).
LOOPBACK_TLS_CONTEXT: dict[str, list[str]] = {"aws:SecureTransport": ["true"], "s3:TlsVersion": ["1.3"]}

_installed = False
_install_lock = threading.Lock()
_original_get_permission = s3_models.FakeBucket.get_permission


def bucket_policy_decision(policy: str, action: str, resource: str, account_id: str) -> Any:
    """moto's PermissionResult for ``action`` on ``resource`` under the bucket ``policy`` (JSON text)."""
    source = PolicySource.parse("bucket-policy", "resource", policy)
    request = Request(action, resource, LOOPBACK_TLS_CONTEXT, {"AWS": f"arn:aws:iam::{account_id}:root"})
    decision = evaluate([], request, resource_policies=[source]).decision
    if decision == EXPLICIT_DENY:
        return PermissionResult.DENIED
    if decision == ALLOWED:
        return PermissionResult.PERMITTED
    return PermissionResult.NEUTRAL


def _get_permission(bucket: Any, action: str, resource: str) -> Any:
    if bucket.policy is None:
        return PermissionResult.NEUTRAL
    try:
        return bucket_policy_decision(bucket.policy.decode(), action, resource, bucket.account_id)
    except UnsupportedPolicyError:
        return _original_get_permission(bucket, action, resource)  # moto's own judgement, conditions ignored


def _log_permissions_enabled_policy(target_bucket: Any, target_prefix: str | None) -> bool:
    """moto's check that the logging service may write to the target bucket, for statements of any Principal form."""
    if not target_bucket.policy:
        return False
    document = json.loads(target_bucket.policy.decode())
    statements = document.get("Statement", [])
    arn = f"arn:{target_bucket.partition}:s3:::{target_bucket.name}"
    accepted = {f"{arn}/{target_prefix or ''}*", f"{arn}/*", arn}
    for statement in statements if isinstance(statements, list) else [statements]:
        principal = statement.get("Principal")
        if not isinstance(principal, dict) or principal.get("Service") != s3_models.LOGGING_SERVICE_PRINCIPAL:
            continue
        actions = statement.get("Action", [])
        resources = statement.get("Resource", [])
        if statement.get("Effect") != "Allow" or "s3:PutObject" not in (
            actions if isinstance(actions, list) else [actions]
        ):
            continue
        if accepted.intersection(resources if isinstance(resources, list) else [resources]):
            return True
    return False


def install() -> None:
    """Patch moto's S3 bucket policy judgement and logging check in this process (once)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        s3_models.FakeBucket.get_permission = _get_permission  # type: ignore[method-assign,assignment]
        s3_models.FakeBucket._log_permissions_enabled_policy = staticmethod(  # type: ignore[method-assign]
            _log_permissions_enabled_policy
        )
        _installed = True
