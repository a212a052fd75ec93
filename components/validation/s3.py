"""S3 bucket names: S3's naming rules and the account-regional namespace."""

from __future__ import annotations

import ipaddress
import re

from ._text import show

_BUCKET_CHARS = re.compile(r"[a-z0-9.-]+")

_BUCKET_FORBIDDEN_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")

_BUCKET_FORBIDDEN_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")

#: Suffix of a bucket name in the account-regional namespace: ``<prefix>-<account>-<region>-an``.
ACCOUNT_REGIONAL_SUFFIX = "-an"


def bucket_name_problems(setting: str, name: str) -> list[str]:
    """Check an S3 general purpose bucket name against S3's naming rules; list every broken rule."""
    if not isinstance(name, str):
        return [f"{setting} = {show(name)}: a bucket name must be a string. Quote it in the stack configuration."]
    rules: list[str] = []
    if not 3 <= len(name) <= 63:
        rules.append(f"must be 3 to 63 characters long (it has {len(name)})")
    if not _BUCKET_CHARS.fullmatch(name):
        rules.append("may contain only lowercase letters, digits, '.' and '-'")
    if name and not (name[0].isalnum() and name[0].isascii()):
        rules.append("must begin with a lowercase letter or digit")
    if name and not (name[-1].isalnum() and name[-1].isascii()):
        rules.append("must end with a lowercase letter or digit")
    if ".." in name:
        rules.append("must not contain two adjacent periods")
    try:
        ipaddress.IPv4Address(name)
        rules.append("must not be formatted as an IP address")
    except ValueError:
        pass
    for prefix in _BUCKET_FORBIDDEN_PREFIXES:
        if name.startswith(prefix):
            rules.append(f"must not begin with the reserved prefix '{prefix}'")
    for suffix in _BUCKET_FORBIDDEN_SUFFIXES:
        if name.endswith(suffix):
            rules.append(f"must not end with the reserved suffix '{suffix}'")
    if not rules:
        return []
    return [
        f"{setting} = {show(name)} is not a valid S3 bucket name: it {'; it '.join(rules)}. "
        f"Choose a name such as {example_bucket_name(setting)!r}, or leave the setting empty to get a generated name."
    ]


#: An example of a valid name for each of the stack's buckets, by the role a setting's name shows.
_EXAMPLE_BUCKET_NAMES = {
    "input": "hospital-a-dicom-input",
    "output": "hospital-a-dicom-output",
    "log": "hospital-a-dicom-logs",
    "audit": "hospital-a-dicom-audit",
}
_BUCKET_ROLE_IN_SETTING = re.compile(r"(input|output|log|audit)[ _]?bucket", re.IGNORECASE)


def example_bucket_name(setting: str) -> str:
    """A valid bucket name that fits the bucket ``setting`` names (``outputBucketName``: an output bucket), or a
    neutral one when the setting's name does not show which bucket it is."""
    match = _BUCKET_ROLE_IN_SETTING.search(setting)
    return _EXAMPLE_BUCKET_NAMES[match.group(1).lower()] if match else "hospital-a-dicom-bucket"


def bucket_name_warnings(setting: str, name: str) -> list[str]:
    """Legal but unwise bucket names."""
    if isinstance(name, str) and "." in name:
        return [
            f"{setting} = {show(name)} contains '.', which S3 allows but which breaks TLS certificate "
            "validation for virtual-hosted-style requests. Prefer '-'."
        ]
    return []


def account_regional_bucket_name(prefix: str, account_id: str, region: str) -> str:
    """The name of a bucket in the account-regional namespace: ``<prefix>-<account>-<region>-an``."""
    return f"{prefix}-{account_id}-{region}{ACCOUNT_REGIONAL_SUFFIX}"


def account_regional_prefix_problems(setting: str, prefix: str, role: str, account_id: str, region: str) -> list[str]:
    """The account-regional name ``<prefix>-<role>-<account>-<region>-an`` must fit S3's rules."""
    name = account_regional_bucket_name(f"{prefix}-{role}", account_id, region)
    if len(name) > 63:
        room = 63 - (len(name) - len(prefix))
        return [
            f"{setting} = {show(prefix)} is too long for account-regional bucket names: the {role} bucket would be "
            f"'{name}' ({len(name)} characters; S3 allows 63), so the prefix may have at most {room} characters "
            f"in {region}. Shorten {setting}, or set the bucket names explicitly."
        ]
    return bucket_name_problems(f"{setting} (generated {role} bucket name)", name)
