"""The deployed stack's values, read from ``pulumi stack output --json`` (a file, or the Pulumi CLI).

Every value is checked for its shape here, so a wrong file or a hand-edited value is a clear error
that names the file (or stack) and the key, before any AWS call.
"""

from __future__ import annotations

import codecs
import json
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .dicomweb import checked_dicomweb_url, dicomweb_url
from .errors import StackOutputsError

_ACCOUNT_ID = re.compile(r"[0-9]{12}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]")
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_KMS_KEY_ARN = re.compile(r"arn:aws(-[a-z]+)*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+")
_DATASTORE_ID = re.compile(r"[0-9a-z]{32}")
_DATASTORE_ARN = re.compile(
    r"arn:aws(-[a-z]+)*:medical-imaging:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):datastore/(?P<id>[0-9a-z]{32})"
)
_ROLE_ARN = re.compile(r"arn:aws(-[^:]+)?:iam::[0-9]{12}:role/[\x21-\x7e]+")
_LAMBDA_ARN = re.compile(r"arn:aws(-[a-z]+)*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9_$-]+)?")

#: What ``pulumi stack output --json`` prints for a secret output unless ``--show-secrets`` is given.
_SECRET_PLACEHOLDER = "[secret]"  # noqa: S105 - a placeholder Pulumi prints, not a secret
#: Seconds to wait for ``pulumi stack output``.
PULUMI_TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class StackOutputs:
    """The stack outputs the operational commands need (keys as exported by the Pulumi program)."""

    account_id: str
    region: str
    input_bucket_name: str
    output_bucket_name: str
    log_bucket_name: str | None
    #: None: the buckets use SSE-S3.
    bucket_kms_key_arn: str | None
    datastore_id: str
    datastore_arn: str
    #: None: the data store uses an AWS owned key.
    datastore_kms_key_arn: str | None
    import_role_arn: str
    #: Where the values came from, for messages: ``outputs file 'x.json'`` or ``stack 'dev'``.
    source: str
    #: The data store's lossless storage format (HTJ2K when the outputs predate the key).
    datastore_lossless_storage_format: str = "HTJ2K"
    #: The authorizer HealthImaging was given at creation; None: none.
    datastore_lambda_authorizer_arn: str | None = None
    #: With the built authorizer: persona -> role ARN HealthImaging assumes.
    dicomweb_persona_role_arns: Mapping[str, str] = field(default_factory=dict)
    #: The data store's DICOMweb root (``dicomwebUrl``); None: not exported (see :attr:`dicomweb_root`).
    dicomweb_url: str | None = None

    @property
    def dicomweb_root(self) -> str:
        """The data store's DICOMweb root: the ``dicomwebUrl`` output, or for a stack deployed before that output,
        derived from its region and data store."""
        return self.dicomweb_url or dicomweb_url(self.region, self.datastore_id)


# key -> (rule as shown to the user, check)
_RULES: dict[str, tuple[str, Callable[[str], bool]]] = {
    "accountId": ("12 digits", lambda v: bool(_ACCOUNT_ID.fullmatch(v))),
    "region": ("a region name such as us-east-1", lambda v: bool(_REGION.fullmatch(v))),
    "inputBucketName": ("an S3 bucket name (3-63 of a-z 0-9 . -)", lambda v: bool(_BUCKET_NAME.fullmatch(v))),
    "outputBucketName": ("an S3 bucket name (3-63 of a-z 0-9 . -)", lambda v: bool(_BUCKET_NAME.fullmatch(v))),
    "logBucketName": ("an S3 bucket name (3-63 of a-z 0-9 . -)", lambda v: bool(_BUCKET_NAME.fullmatch(v))),
    "bucketKmsKeyArn": (
        "a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)",
        lambda v: bool(_KMS_KEY_ARN.fullmatch(v)),
    ),
    "datastoreId": ("32 characters of 0-9 a-z", lambda v: bool(_DATASTORE_ID.fullmatch(v))),
    "datastoreArn": (
        "a data store ARN (arn:aws:medical-imaging:<region>:<account>:datastore/<id>)",
        lambda v: bool(_DATASTORE_ARN.fullmatch(v)),
    ),
    "datastoreKmsKeyArn": (
        "a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)",
        lambda v: bool(_KMS_KEY_ARN.fullmatch(v)),
    ),
    "importRoleArn": ("an IAM role ARN (arn:aws:iam::<account>:role/<name>)", lambda v: bool(_ROLE_ARN.fullmatch(v))),
    "datastoreLosslessStorageFormat": ("HTJ2K or JPEG_2000_LOSSLESS", lambda v: v in ("HTJ2K", "JPEG_2000_LOSSLESS")),
    "datastoreLambdaAuthorizerArn": (
        "a Lambda function ARN (arn:aws:lambda:<region>:<account>:function:<name>[:<alias>])",
        lambda v: bool(_LAMBDA_ARN.fullmatch(v)),
    ),
}
_REQUIRED = (
    "accountId",
    "region",
    "inputBucketName",
    "outputBucketName",
    "datastoreId",
    "datastoreArn",
    "importRoleArn",
)
_OPTIONAL = (
    "logBucketName",
    "bucketKmsKeyArn",
    "datastoreKmsKeyArn",
    "datastoreLosslessStorageFormat",
    "datastoreLambdaAuthorizerArn",
)


def _value(data: Mapping[str, Any], key: str, source: str, *, required: bool) -> str | None:
    if key not in data or data[key] is None or data[key] == "":
        if not required:
            return None
        found = ", ".join(sorted(str(k) for k in data)) or "none"
        raise StackOutputsError(
            f"{source} has no key {key!r} (keys found: {found}). Write the file with "
            "`pulumi stack output --json > FILE` from the project directory after `pulumi up`, "
            "or pass --stack NAME."
        )
    value = data[key]
    if value == _SECRET_PLACEHOLDER:
        raise StackOutputsError(
            f"{source}: key {key!r} is hidden as {_SECRET_PLACEHOLDER!r}; "
            "write the file with `pulumi stack output --json --show-secrets`."
        )
    rule, check = _RULES[key]
    if not isinstance(value, str) or not check(value):
        raise StackOutputsError(
            f"{source}: key {key!r} has the value {value!r}, which is not {rule}. "
            "Use the file that `pulumi stack output --json` prints, unedited."
        )
    return value


def outputs_from_mapping(data: Mapping[str, Any], source: str) -> StackOutputs:
    """Build :class:`StackOutputs` from the JSON object of ``pulumi stack output --json``, checking each value."""
    if not isinstance(data, Mapping):
        raise StackOutputsError(
            f"{source} holds a JSON {type(data).__name__}, not the object that `pulumi stack output --json` prints."
        )
    values: dict[str, str | None] = {key: _value(data, key, source, required=True) for key in _REQUIRED}
    values.update({key: _value(data, key, source, required=False) for key in _OPTIONAL})
    arn = _DATASTORE_ARN.fullmatch(str(values["datastoreArn"]))
    assert arn is not None  # checked by _value
    mismatches = [
        f"{key} {values[key]!r}"
        for key, part in (("datastoreId", "id"), ("accountId", "account"), ("region", "region"))
        if arn.group(part) != values[key]
    ]
    if mismatches:
        raise StackOutputsError(
            f"{source}: key 'datastoreArn' ({values['datastoreArn']!r}) does not match "
            f"{' and '.join(mismatches)}. The file mixes two stacks' outputs; write it again with "
            "`pulumi stack output --json`."
        )

    def required(key: str) -> str:
        value = values[key]
        assert value is not None
        return value

    dicomweb = data.get("dicomwebUrl")
    if dicomweb is not None and dicomweb != "":
        dicomweb = checked_dicomweb_url(str(dicomweb), required("datastoreId"), source)
    return StackOutputs(
        dicomweb_url=dicomweb,
        account_id=required("accountId"),
        region=required("region"),
        input_bucket_name=required("inputBucketName"),
        output_bucket_name=required("outputBucketName"),
        log_bucket_name=values["logBucketName"],
        bucket_kms_key_arn=values["bucketKmsKeyArn"],
        datastore_id=required("datastoreId"),
        datastore_arn=required("datastoreArn"),
        datastore_kms_key_arn=values["datastoreKmsKeyArn"],
        import_role_arn=required("importRoleArn"),
        source=source,
        datastore_lossless_storage_format=values["datastoreLosslessStorageFormat"] or "HTJ2K",
        datastore_lambda_authorizer_arn=values["datastoreLambdaAuthorizerArn"],
        dicomweb_persona_role_arns=_persona_role_arns(data, source),
    )


def _persona_role_arns(data: Mapping[str, Any], source: str) -> dict[str, str]:
    """``dicomwebPersonaRoleArns``: persona -> IAM role ARN (absent or empty: none)."""
    value = data.get("dicomwebPersonaRoleArns") or {}
    if not isinstance(value, Mapping) or not all(
        isinstance(arn, str) and _ROLE_ARN.fullmatch(arn) for arn in value.values()
    ):
        raise StackOutputsError(
            f"{source}: key 'dicomwebPersonaRoleArns' has the value {value!r}, which is not a mapping of persona to IAM "
            "role ARN. Use the file that `pulumi stack output --json` prints, unedited."
        )
    return {str(persona): arn for persona, arn in value.items()}


def _parse_json(text: str, source: str) -> Mapping[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise StackOutputsError(
            f"{source} is not valid JSON ({error.msg} at line {error.lineno}, column {error.colno}). "
            "Write it with `pulumi stack output --json > FILE`."
        ) from None
    if not isinstance(data, dict):
        raise StackOutputsError(
            f"{source} holds a JSON {type(data).__name__}, not the object that `pulumi stack output --json` prints."
        )
    return data


def load_outputs_file(path: Path) -> StackOutputs:
    """Read the stack outputs from a file written by ``pulumi stack output --json > FILE``."""
    source = f"outputs file '{path}'"
    try:
        text = decode_outputs_text(path.read_bytes(), source)
    except FileNotFoundError:
        raise StackOutputsError(
            f"{source} does not exist. Write it with `pulumi stack output --json > {path}` "
            "from the project directory, or pass --stack NAME."
        ) from None
    except IsADirectoryError:
        raise StackOutputsError(f"{source} is a directory; pass the JSON file itself.") from None
    except OSError as error:
        raise StackOutputsError(f"{source} cannot be read: {error}.") from None
    return outputs_from_mapping(_parse_json(text, source), source)


#: Byte-order marks and the encodings they announce (UTF-32 first: its little-endian mark starts like UTF-16's).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def decode_outputs_text(data: bytes, source: str) -> str:
    """The text of an outputs file: UTF-8, or with a byte-order mark UTF-8, UTF-16 or UTF-32 (Windows PowerShell's
    ``>`` writes UTF-16 with a mark). Anything else is refused with how to write the file as UTF-8."""
    encoding = "utf-8"
    for bom, name in _BOMS:
        if data.startswith(bom):
            data, encoding = data[len(bom) :], name
            break
    else:
        if len(data) >= 2 and (data[0] == 0) != (data[1] == 0):
            encoding = "utf-16-be" if data[0] == 0 else "utf-16-le"  # UTF-16 without a mark: JSON starts with ASCII
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        raise StackOutputsError(
            f"{source} is not text in UTF-8, UTF-16 or UTF-32 ({encoding}: {error.reason} at byte {error.start}). "
            "Write it again as UTF-8: `pulumi stack output --json > FILE` in a POSIX shell, or in PowerShell "
            "`pulumi stack output --json | Out-File -Encoding utf8 FILE`."
        ) from None


def load_stack_outputs(stack: str, *, cwd: Path | None = None) -> StackOutputs:
    """Run ``pulumi stack output --json --stack NAME`` (in ``cwd``, the project directory) and read its outputs."""
    source = f"stack '{stack}'"
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        raise StackOutputsError(
            f"--stack {stack} needs the Pulumi CLI, which is not on PATH. Install it, or write the outputs "
            "where it is installed with `pulumi stack output --json > outputs.json` and pass --outputs outputs.json."
        )
    try:
        completed = subprocess.run(  # noqa: S603 - fixed arguments, no shell
            [pulumi, "stack", "output", "--json", "--stack", stack],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=PULUMI_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise StackOutputsError(
            f"`pulumi stack output --json --stack {stack}` did not finish within {PULUMI_TIMEOUT_SECONDS} s; "
            "check `pulumi whoami` and the backend, or pass --outputs FILE."
        ) from None
    except OSError as error:
        raise StackOutputsError(f"`pulumi stack output --json --stack {stack}` could not run: {error}.") from None
    if completed.returncode != 0:
        detail = completed.stderr.strip() or completed.stdout.strip() or f"exit status {completed.returncode}"
        raise StackOutputsError(
            f"`pulumi stack output --json --stack {stack}` failed: {detail}. "
            "Run it from the project directory, check the stack name with `pulumi stack ls`, or pass --outputs FILE."
        )
    return outputs_from_mapping(_parse_json(completed.stdout, source), source)
