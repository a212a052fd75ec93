"""IAM Identity Center instance ARNs and permission set names."""

from __future__ import annotations

import re
from typing import Any

from ._text import show

_IDENTITY_CENTER_INSTANCE_ARN = re.compile(r"arn:aws:sso:::instance/ssoins-[0-9a-f]{16}")

_PERMISSION_SET_NAME = re.compile(r"[A-Za-z0-9_+=,.@-]{1,32}")


def identity_center_instance_arn_problems(setting: str, value: Any) -> list[str]:
    """An IAM Identity Center instance ARN: ``arn:aws:sso:::instance/ssoins-<16 hex digits>``."""
    if isinstance(value, str) and _IDENTITY_CENTER_INSTANCE_ARN.fullmatch(value):
        return []
    return [
        f"{setting} = {show(value)} is not an IAM Identity Center instance ARN: it must look like "
        "arn:aws:sso:::instance/ssoins-0123456789abcdef (16 hexadecimal digits). "
        "`aws sso-admin list-instances` prints it."
    ]


def permission_set_name_problems(setting: str, name: Any) -> list[str]:
    """IAM Identity Center permission set names: 1 to 32 characters of ``[\\w+=,.@-]``."""
    if isinstance(name, str) and _PERMISSION_SET_NAME.fullmatch(name):
        return []
    length = len(name) if isinstance(name, str) else 0
    return [
        f"{setting} = {show(name)} is not a valid permission set name: IAM Identity Center allows 1 to 32 "
        f"letters, digits and + = , . @ _ - (it has {length} characters)."
    ]
