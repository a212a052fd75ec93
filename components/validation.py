"""Input validation as pure functions.

Every function here takes plain values and returns a list of problems (empty when the value is
fine). A problem is one sentence that names the setting, shows the value, states the rule and says
what to do. Callers collect the problems of every input and raise one :class:`InvalidInputError`
that lists them all, before any resource is registered, so that a user fixes everything in one go.

The same functions serve the stack configuration (settings named like ``inputBucketName``) and the
components' arguments (named like ``input_bucket_name``): the caller passes the name to show.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi

#: Regions where AWS HealthImaging runs (AWS General Reference). botocore cannot tell which regions
#: offer the service, so the project keeps this list; ``allowUnlistedRegion`` overrides it.
HEALTHIMAGING_REGIONS: tuple[str, ...] = (
    "us-east-1",
    "us-west-2",
    "eu-west-1",
    "eu-west-2",
    "ap-southeast-2",
)

#: Shape of a commercial-partition region name, used when an unlisted region is allowed.
_REGION_SHAPE = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]$")

_BUCKET_CHARS = re.compile(r"^[a-z0-9.-]+$")
_BUCKET_FORBIDDEN_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_FORBIDDEN_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
#: Suffix of a bucket name in the account-regional namespace: ``<prefix>-<account>-<region>-an``.
ACCOUNT_REGIONAL_SUFFIX = "-an"

_DATASTORE_NAME = re.compile(r"^[A-Za-z0-9._/#-]+$")
_TAG_CHARS = re.compile(r"^[\w\s.:/=+\-@]*$")
_ACCOUNT_ID = re.compile(r"^[0-9]{12}$")
_IAM_NAME = re.compile(r"^[\w+=,.@-]+$")
_IAM_PATH = re.compile(r"^/([\x21-\x7e]*/)?$")
_KMS_KEY_ID = r"(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})"
_KMS_KEY_ARN = re.compile(
    r"^arn:(?P<partition>[a-z-]+):kms:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):key/" + _KMS_KEY_ID + "$"
)
_KMS_ALIAS_ARN = re.compile(r"^arn:[a-z-]+:kms:[a-z0-9-]+:[0-9]{12}:alias/.+$")
_IAM_POLICY_ARN = re.compile(r"^arn:aws:iam::([0-9]{12}|aws):policy/([\x21-\x7e]+/)?[\w+=,.@-]+$")


class InvalidInputError(pulumi.RunError, ValueError):
    """Raised before anything is created when one or more inputs break a rule.

    A ``pulumi.RunError`` makes the Pulumi CLI print the message without a Python traceback.
    ``problems`` keeps the individual sentences for callers and tests.
    """

    def __init__(self, subject: str, problems: Sequence[str]) -> None:
        self.subject = subject
        self.problems = list(problems)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"{subject}: {count} {noun} found; nothing was created.\n{lines}")


def raise_if_problems(subject: str, problems: Sequence[str]) -> None:
    """Raise :class:`InvalidInputError` listing ``problems`` if there are any."""
    if problems:
        raise InvalidInputError(subject, problems)


def _show(value: Any) -> str:
    return repr(value)


def bucket_name_problems(setting: str, name: str) -> list[str]:
    """Check an S3 general purpose bucket name against S3's naming rules; list every broken rule."""
    if not isinstance(name, str):
        return [f"{setting} = {_show(name)}: a bucket name must be a string. Quote it in the stack configuration."]
    rules: list[str] = []
    if not 3 <= len(name) <= 63:
        rules.append(f"must be 3 to 63 characters long (it has {len(name)})")
    if not _BUCKET_CHARS.match(name):
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
        f"{setting} = {_show(name)} is not a valid S3 bucket name: it {'; it '.join(rules)}. "
        "Choose a name such as 'hospital-a-dicom-input', or leave the setting empty to get a generated name."
    ]


def bucket_name_warnings(setting: str, name: str) -> list[str]:
    """Legal but unwise bucket names."""
    if isinstance(name, str) and "." in name:
        return [
            f"{setting} = {_show(name)} contains '.', which S3 allows but which breaks TLS certificate "
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
            f"{setting} = {_show(prefix)} is too long for account-regional bucket names: the {role} bucket would be "
            f"'{name}' ({len(name)} characters; S3 allows 63), so the prefix may have at most {room} characters "
            f"in {region}. Shorten {setting}, or set the bucket names explicitly."
        ]
    return bucket_name_problems(f"{setting} (generated {role} bucket name)", name)


def region_problems(setting: str, region: str, allow_unlisted: bool = False) -> list[str]:
    """The region must offer HealthImaging (or be explicitly allowed) and be in the ``aws`` partition."""
    if not isinstance(region, str) or not region:
        return [f"{setting} = {_show(region)}: a region is required, for example 'us-east-1'."]
    if region.startswith(("cn-", "us-gov-", "us-iso", "eu-isoe-")):
        return [
            f"{setting} = {_show(region)} is outside the commercial 'aws' partition; this program supports "
            "only the 'aws' partition, where HealthImaging runs."
        ]
    if region in HEALTHIMAGING_REGIONS:
        return []
    if allow_unlisted:
        if _REGION_SHAPE.match(region):
            return []
        return [f"{setting} = {_show(region)} does not look like an AWS region name (for example 'us-east-1')."]
    return [
        f"{setting} = {_show(region)} is not a region where AWS HealthImaging runs "
        f"({', '.join(HEALTHIMAGING_REGIONS)}). Choose one of those, or, if AWS has since launched "
        "HealthImaging there, set allowUnlistedRegion to true."
    ]


def account_id_problems(setting: str, value: Any) -> list[str]:
    """An AWS account ID: exactly 12 digits, given as a string."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return [f"{setting} = {_show(value)}: an AWS account ID is a string of exactly 12 digits."]
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit() and len(value) < 12):
        text = str(value)
        if text.isdigit() and len(text) < 12:
            return [
                f"{setting} = {_show(value)} has {len(text)} digits; an AWS account ID has exactly 12. "
                "If the real ID starts with 0, YAML read it as a number and dropped the leading zeros: "
                f'quote it, for example "{text.zfill(12)}".'
            ]
        return [f"{setting} = {_show(value)}: give the account ID as a quoted string of 12 digits."]
    if not _ACCOUNT_ID.match(value):
        return [f"{setting} = {_show(value)} is not an AWS account ID: it must be exactly 12 digits."]
    return []


def datastore_name_problems(setting: str, name: str) -> list[str]:
    """HealthImaging data store name: 1 to 256 characters of ``[A-Za-z0-9._/#-]``."""
    if not isinstance(name, str) or not name:
        return [f"{setting} = {_show(name)}: a data store name must be a non-empty string."]
    problems = []
    if len(name) > 256:
        problems.append(f"{setting} = {_show(name[:40] + '...')} is {len(name)} characters long; the limit is 256.")
    if not _DATASTORE_NAME.match(name):
        bad = sorted({c for c in name if not re.match(r"[A-Za-z0-9._/#-]", c)})
        problems.append(
            f"{setting} = {_show(name)} contains characters HealthImaging does not accept ({' '.join(map(repr, bad))}); "
            "use only letters, digits and . _ / # -"
        )
    return problems


def tags_problems(setting: str, tags: Any) -> list[str]:
    """Tags: a mapping of string keys (1-128 characters, not ``aws:``) to string values (at most 256)."""
    if not isinstance(tags, Mapping):
        return [f"{setting} = {_show(tags)}: tags must be a mapping of key to value, for example {{team: imaging}}."]
    problems = []
    if len(tags) > 50:
        problems.append(f"{setting} has {len(tags)} tags; AWS allows at most 50 per resource.")
    for key, value in tags.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 128:
            problems.append(f"{setting} key {_show(key)}: a tag key must be a string of 1 to 128 characters.")
            continue
        if key.lower().startswith("aws:"):
            problems.append(f"{setting} key {_show(key)}: keys starting with 'aws:' are reserved for AWS; rename it.")
        if not _TAG_CHARS.match(key):
            problems.append(
                f"{setting} key {_show(key)} contains characters AWS tags do not accept; "
                "use letters, digits, spaces and _ . : / = + - @"
            )
        if not isinstance(value, str):
            problems.append(f"{setting}.{key} = {_show(value)}: tag values must be strings; quote the value.")
        elif len(value) > 256:
            problems.append(f"{setting}.{key} is {len(value)} characters long; a tag value may have at most 256.")
        elif not _TAG_CHARS.match(value):
            problems.append(
                f"{setting}.{key} = {_show(value)} contains characters AWS tags do not accept; "
                "use letters, digits, spaces and _ . : / = + - @"
            )
    return problems


def kms_key_arn_problems(
    setting: str,
    arn: str,
    *,
    region: str,
    account_id: str,
    allow_cross_account: bool = False,
) -> list[str]:
    """A KMS key given by its full key ARN, in the stack's region and (unless allowed) account.

    Aliases are refused: an alias can be repointed to another key after deployment, which would
    silently change which key protects the data.
    """
    if not isinstance(arn, str) or not arn:
        return [f"{setting} = {_show(arn)}: a KMS key ARN must be a non-empty string."]
    if _KMS_ALIAS_ARN.match(arn) or arn.startswith("alias/"):
        return [
            f"{setting} = {_show(arn)} is a KMS alias; give the key ARN "
            "(arn:aws:kms:<region>:<account>:key/<key-id>) because an alias can be repointed to another key. "
            "`aws kms describe-key --key-id <alias>` prints the key ARN."
        ]
    match = _KMS_KEY_ARN.match(arn)
    if not match:
        return [
            f"{setting} = {_show(arn)} is not a KMS key ARN of the form "
            "arn:aws:kms:<region>:<12-digit account>:key/<key-id>."
        ]
    problems = []
    if match["partition"] != "aws":
        problems.append(f"{setting} = {_show(arn)} is in partition '{match['partition']}'; only 'aws' is supported.")
    if match["region"] != region:
        problems.append(
            f"{setting} = {_show(arn)} is in region {match['region']}, but the stack deploys to {region}; "
            "S3 and HealthImaging need a key in the same region."
        )
    if match["account"] != account_id and not allow_cross_account:
        problems.append(
            f"{setting} = {_show(arn)} belongs to account {match['account']}, not the stack's account {account_id}. "
            "Use a key of this account, or set allowCrossAccountKeys to true if the key policy of that "
            "account grants this one access."
        )
    return problems


def iam_name_problems(setting: str, name: str, max_length: int = 64) -> list[str]:
    """IAM role, user, group and policy names: ``[\\w+=,.@-]``, at most ``max_length`` characters."""
    if not isinstance(name, str) or not name:
        return [f"{setting} = {_show(name)}: an IAM name must be a non-empty string."]
    problems = []
    if len(name) > max_length:
        problems.append(f"{setting} = {_show(name)} is {len(name)} characters long; IAM allows at most {max_length}.")
    if not _IAM_NAME.match(name):
        problems.append(
            f"{setting} = {_show(name)} contains characters IAM does not accept; use letters, digits and + = , . @ _ -"
        )
    return problems


def iam_path_problems(setting: str, path: str) -> list[str]:
    """IAM paths: ``/`` or ``/segment/.../`` of printable ASCII, at most 512 characters."""
    if not isinstance(path, str) or len(path) > 512 or not _IAM_PATH.match(path) or "//" in path:
        return [
            f"{setting} = {_show(path)} is not an IAM path: it must be '/' or begin and end with '/', like '/healthimaging/'."
        ]
    return []


def iam_policy_arn_problems(setting: str, arn: str) -> list[str]:
    """A managed policy ARN, used for permissions boundaries."""
    if not isinstance(arn, str) or not _IAM_POLICY_ARN.match(arn):
        return [f"{setting} = {_show(arn)} is not an IAM managed policy ARN (arn:aws:iam::<account>:policy/<name>)."]
    return []


def positive_days_problems(setting: str, value: Any, maximum: int = 36500) -> list[str]:
    """A whole number of days, at least 1."""
    if isinstance(value, bool) or not isinstance(value, int):
        return [f"{setting} = {_show(value)}: a number of days must be a whole number, for example 90."]
    if not 1 <= value <= maximum:
        return [f"{setting} = {value}: a number of days must be between 1 and {maximum}."]
    return []


def name_prefix_problems(setting: str, prefix: str, max_length: int = 24) -> list[str]:
    """The prefix for generated names: lowercase letters, digits and '-', starting with a letter."""
    if not isinstance(prefix, str) or not re.match(r"^[a-z][a-z0-9-]*[a-z0-9]$", prefix) or "--" in prefix:
        return [
            f"{setting} = {_show(prefix)}: a name prefix must start with a lowercase letter, end with a letter or "
            "digit and contain only lowercase letters, digits and single '-', for example 'ahi-dev'."
        ]
    if len(prefix) > max_length:
        return [
            f"{setting} = {_show(prefix)} is {len(prefix)} characters long; keep it to {max_length} or fewer so generated names fit."
        ]
    return []


def choice_problems(setting: str, value: Any, choices: Sequence[str]) -> list[str]:
    """One of a fixed set of strings."""
    if value not in choices:
        return [f"{setting} = {_show(value)} is not one of: {', '.join(repr(c) for c in choices)}."]
    return []


# --- Access for people (issue 3) -------------------------------------------------------------------

_IAM_PRINCIPAL_ARN = re.compile(r"^arn:aws:iam::(?P<account>[0-9]{12}):(?P<kind>root|user/.+|role/.+)$")
_IDENTITY_CENTER_INSTANCE_ARN = re.compile(r"^arn:aws:sso:::instance/ssoins-[0-9a-f]{16}$")
_PERMISSION_SET_NAME = re.compile(r"^[\w+=,.@-]{1,32}$")


def persona_names_problems(setting: str, value: Any, known: Sequence[str]) -> list[str]:
    """A list of persona names, each one of ``known``, none twice."""
    listed = ", ".join(repr(k) for k in known)
    if isinstance(value, str) or not isinstance(value, Sequence):
        return [
            f"{setting} = {_show(value)}: give a list of persona names, for example [admin, reader] (known: {listed})."
        ]
    problems = []
    for name in value:
        if name not in known:
            problems.append(
                f"{setting} names the persona {_show(name)}, which does not exist; the personas are {listed}. "
                "Correct the spelling or remove it."
            )
    repeated = sorted({str(n) for n in value if list(value).count(n) > 1})
    if repeated:
        problems.append(f"{setting} lists {', '.join(map(repr, repeated))} more than once; list each persona once.")
    return problems


def iam_principal_problems(setting: str, value: Any) -> list[str]:
    """A principal that may assume a role: an IAM user or role ARN, an account root ARN, or a 12-digit account ID."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return [
            f"{setting} = {_show(value)} is not a principal: give an IAM user or role ARN "
            "(arn:aws:iam::<12-digit account>:user/<name> or :role/<name>) or a quoted 12-digit account ID."
        ]
    if isinstance(value, int) or value.isdigit():
        return account_id_problems(setting, value)
    match = _IAM_PRINCIPAL_ARN.match(value)
    if match and "*" not in value:
        return []
    if value.startswith("arn:aws:iam::") and ":group/" in value:
        return [
            f"{setting} = {_show(value)} is an IAM group, and a group cannot assume a role. "
            "Name the users (or their account ID), or use accessGroups to give the group the persona's policy."
        ]
    if value.startswith("arn:aws:sts::") and ":assumed-role/" in value:
        return [
            f"{setting} = {_show(value)} is a role session, which changes with every sign-in. "
            "Name the role itself: arn:aws:iam::<account>:role/<name>."
        ]
    return [
        f"{setting} = {_show(value)} is neither an IAM user or role ARN "
        "(arn:aws:iam::<12-digit account>:user/<name>, :role/<name> or :root, without wildcards) "
        "nor a quoted 12-digit account ID."
    ]


def principal_arn(value: str | int) -> str:
    """The ARN a trust policy names for a principal: an account ID stands for the account's root ARN."""
    text = str(value)
    return f"arn:aws:iam::{text}:root" if text.isdigit() else text


def identity_center_instance_arn_problems(setting: str, value: Any) -> list[str]:
    """An IAM Identity Center instance ARN: ``arn:aws:sso:::instance/ssoins-<16 hex digits>``."""
    if isinstance(value, str) and _IDENTITY_CENTER_INSTANCE_ARN.match(value):
        return []
    return [
        f"{setting} = {_show(value)} is not an IAM Identity Center instance ARN: it must look like "
        "arn:aws:sso:::instance/ssoins-0123456789abcdef (16 hexadecimal digits). "
        "`aws sso-admin list-instances` prints it."
    ]


def permission_set_name_problems(setting: str, name: Any) -> list[str]:
    """IAM Identity Center permission set names: 1 to 32 characters of ``[\\w+=,.@-]``."""
    if isinstance(name, str) and _PERMISSION_SET_NAME.match(name):
        return []
    length = len(name) if isinstance(name, str) else 0
    return [
        f"{setting} = {_show(name)} is not a valid permission set name: IAM Identity Center allows 1 to 32 "
        f"letters, digits and + = , . @ _ - (it has {length} characters)."
    ]


def whole_number_problems(setting: str, value: Any, minimum: int, maximum: int) -> list[str]:
    """A whole number between ``minimum`` and ``maximum``."""
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        return [f"{setting} = {_show(value)}: expected a whole number from {minimum} to {maximum}."]
    return []
