"""KMS key ARNs."""

from __future__ import annotations

import re
from typing import Any

from ._text import show

#: A single-Region key's ID is a UUID; a multi-Region key's is ``mrk-`` and 32 hex digits.
_KMS_KEY_ID = r"(?P<key_id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})"

_KMS_KEY_ARN = re.compile(
    r"arn:(?P<partition>[a-z-]+):kms:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):key/" + _KMS_KEY_ID
)

_KMS_ALIAS_ARN = re.compile(r"arn:[a-z-]+:kms:[a-z0-9-]+:[0-9]{12}:alias/.+")


def kms_key_arn_problems(
    setting: str,
    arn: str,
    *,
    region: str,
    account_id: str,
    allow_cross_account: bool = False,
    allow_cross_account_setting: str = "allowCrossAccountKeys",
    allow_multi_region: bool = True,
    used_by: str = "",
) -> list[str]:
    """A KMS key given by its full key ARN, in the stack's region and (unless allowed) account.

    Aliases are refused: an alias can be repointed to another key after deployment, which would
    silently change which key protects the data. ``allow_multi_region=False`` also refuses a multi-Region key
    (``key/mrk-...``), naming ``used_by`` as the service that does not accept one.
    """
    if not isinstance(arn, str) or not arn:
        return [f"{setting} = {show(arn)}: a KMS key ARN must be a non-empty string."]
    if _KMS_ALIAS_ARN.fullmatch(arn) or arn.startswith("alias/"):
        return [
            f"{setting} = {show(arn)} is a KMS alias; give the key ARN "
            "(arn:aws:kms:<region>:<account>:key/<key-id>) because an alias can be repointed to another key. "
            "`aws kms describe-key --key-id <alias>` prints the key ARN."
        ]
    match = _KMS_KEY_ARN.fullmatch(arn)
    if not match:
        return [
            f"{setting} = {show(arn)} is not a KMS key ARN of the form "
            "arn:aws:kms:<region>:<12-digit account>:key/<key-id>."
        ]
    problems = []
    if match["key_id"].startswith("mrk-") and not allow_multi_region:
        problems.append(
            f"{setting} = {show(arn)} is a multi-Region key (key ID mrk-...); {used_by or 'this resource'} accepts "
            "only a single-Region key (key/<uuid>). Give a single-Region key of this region, or leave the setting "
            "empty to have one created."
        )
    if match["partition"] != "aws":
        problems.append(f"{setting} = {show(arn)} is in partition '{match['partition']}'; only 'aws' is supported.")
    if match["region"] != region:
        problems.append(
            f"{setting} = {show(arn)} is in region {match['region']}, but the stack deploys to {region}; "
            "S3 and HealthImaging need a key in the same region."
        )
    if match["account"] != account_id and not allow_cross_account:
        problems.append(
            f"{setting} = {show(arn)} belongs to account {match['account']}, not the stack's account {account_id}. "
            f"Use a key of this account, or set {allow_cross_account_setting} to true if the key policy of that "
            "account grants this one access."
        )
    return problems


_KMS_ALIAS_NAME = re.compile(r"[A-Za-z0-9/_-]{1,250}")


def kms_alias_name_problems(setting: str, alias: Any) -> list[str]:
    """A KMS alias name without its ``alias/`` prefix: 1 to 250 of ``A-Z a-z 0-9 / _ -``, not ``aws/...``."""
    if not isinstance(alias, str) or not _KMS_ALIAS_NAME.fullmatch(alias):
        return [
            f"{setting} = {show(alias)} is not a KMS alias name: use 1 to 250 letters, digits and / _ - "
            "(without the 'alias/' prefix)."
        ]
    if alias.startswith("aws/"):
        return [f"{setting} = {show(alias)}: aliases beginning with 'aws/' are reserved for AWS managed keys."]
    return []


def foreign_key_warnings(setting: str, arn: Any, account_id: Any) -> list[str]:
    """A warning when a key ARN belongs to another account than ``account_id`` (allowed only on request)."""
    match = _KMS_KEY_ARN.fullmatch(arn) if isinstance(arn, str) else None
    if match is None or match["account"] == account_id:
        return []
    return [
        f"{setting} is a key of account {match['account']}, not of this account {account_id}: that account "
        "controls the key and can revoke this account's use of it, which makes the data it protects unreadable."
    ]
