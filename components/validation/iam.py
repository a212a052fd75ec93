"""IAM names, paths, managed policy ARNs and principals."""

from __future__ import annotations

import re
from typing import Any

from ._text import show
from .accounts import account_id_problems

_IAM_NAME = re.compile(r"[A-Za-z0-9_+=,.@-]+")

_IAM_PATH = re.compile(r"/([\x21-\x7e]*/)?")

_IAM_POLICY_ARN = re.compile(r"arn:aws:iam::([0-9]{12}|aws):policy/([\x21-\x7e]+/)?[A-Za-z0-9_+=,.@-]+")

_IAM_PRINCIPAL_ARN = re.compile(
    r"arn:aws:iam::(?P<account>[0-9]{12}):(?P<kind>root|user/[\x21-\x7e]+|role/[\x21-\x7e]+)"
)


def iam_name_problems(setting: str, name: str, max_length: int = 64) -> list[str]:
    """IAM role, user, group and policy names: ``[\\w+=,.@-]``, at most ``max_length`` characters."""
    if not isinstance(name, str) or not name:
        return [f"{setting} = {show(name)}: an IAM name must be a non-empty string."]
    problems = []
    if len(name) > max_length:
        problems.append(f"{setting} = {show(name)} is {len(name)} characters long; IAM allows at most {max_length}.")
    if not _IAM_NAME.fullmatch(name):
        problems.append(
            f"{setting} = {show(name)} contains characters IAM does not accept; use letters, digits and + = , . @ _ -"
        )
    return problems


def iam_path_problems(setting: str, path: str) -> list[str]:
    """IAM paths: ``/`` or ``/segment/.../`` of printable ASCII, at most 512 characters."""
    if not isinstance(path, str) or len(path) > 512 or not _IAM_PATH.fullmatch(path) or "//" in path:
        return [
            f"{setting} = {show(path)} is not an IAM path: it must be '/' or begin and end with '/', like '/healthimaging/'."
        ]
    return []


def iam_policy_arn_problems(setting: str, arn: str) -> list[str]:
    """A managed policy ARN, used for permissions boundaries."""
    if not isinstance(arn, str) or not _IAM_POLICY_ARN.fullmatch(arn):
        return [f"{setting} = {show(arn)} is not an IAM managed policy ARN (arn:aws:iam::<account>:policy/<name>)."]
    return []


def iam_principal_problems(setting: str, value: Any) -> list[str]:
    """A principal that may assume a role: an IAM user or role ARN, an account root ARN, or a 12-digit account ID."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return [
            f"{setting} = {show(value)} is not a principal: give an IAM user or role ARN "
            "(arn:aws:iam::<12-digit account>:user/<name> or :role/<name>) or a quoted 12-digit account ID."
        ]
    if isinstance(value, int) or (value.isascii() and value.isdigit()):
        return account_id_problems(setting, value)
    match = _IAM_PRINCIPAL_ARN.fullmatch(value)
    if match and "*" not in value:
        return []
    if value.startswith("arn:aws:iam::") and ":group/" in value:
        return [
            f"{setting} = {show(value)} is an IAM group, and a group cannot assume a role. "
            "Name the users (or their account ID), or use accessGroups to give the group the persona's policy."
        ]
    if value.startswith("arn:aws:sts::") and ":assumed-role/" in value:
        return [
            f"{setting} = {show(value)} is a role session, which changes with every sign-in. "
            "Name the role itself: arn:aws:iam::<account>:role/<name>."
        ]
    return [
        f"{setting} = {show(value)} is neither an IAM user or role ARN "
        "(arn:aws:iam::<12-digit account>:user/<name>, :role/<name> or :root, without wildcards) "
        "nor a quoted 12-digit account ID."
    ]


def principal_arn(value: str | int) -> str:
    """The ARN a trust policy names for a principal: an account ID stands for the account's root ARN."""
    text = str(value)
    return f"arn:aws:iam::{text}:root" if (text.isascii() and text.isdigit()) else text
