"""The data store's creation-time options that CloudFormation cannot set, and their rules (pure functions).

HealthImaging fixes two things when a data store is created, and nothing changes them afterwards (there is no
UpdateDatastore; an authorizer added later takes an AWS Support case):

- ``lossless_storage_format``: ``HTJ2K`` (HealthImaging's default) or ``JPEG_2000_LOSSLESS``;
- ``lambda_authorizer_arn``: the Lambda function that checks OIDC bearer tokens for DICOMweb, either an existing one
  of this account and region, or one the component builds from ``dicomweb_oidc`` (at most one of the two).

:class:`components.datastore.ImagingDatastore` validates them here, before anything is created, and creates the data
store through the data store creator function (:mod:`components.created_datastore`) when one of them asks for more
than the aws-native resource can do (:func:`uses_created_datastore`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from . import dicomweb_authorizer as authorizer
from . import validation
from .validation._text import show

# The authorizer function's personas, and where an issuer publishes its keys when ``jwks_uri`` is not given.
from healthimaging_functions.dicomweb_authorizer import config as function_config  # isort: skip
from healthimaging_functions.dicomweb_authorizer.config import default_jwks_uri as default_jwks_uri  # isort: skip

FORMAT_HTJ2K = "HTJ2K"
FORMAT_JPEG_2000_LOSSLESS = "JPEG_2000_LOSSLESS"
#: ``losslessStorageFormat`` as HealthImaging's API model lists it; the first is the service's default.
LOSSLESS_STORAGE_FORMATS = (FORMAT_HTJ2K, FORMAT_JPEG_2000_LOSSLESS)

#: The personas a token's groups can map to (``dicomweb_oidc.personas``), least privileged first; the authorizer's
#: own tuple (most privileged first) is the source.
DICOMWEB_PERSONAS = tuple(reversed(function_config.PERSONAS_BY_PRIVILEGE))
#: The fields of ``dicomweb_oidc``, which are :class:`~components.dicomweb_authorizer.DicomwebAuthorizer`'s arguments
#: of the same names, with the authorizer's defaults (None: required, or derived as the description says).
DICOMWEB_OIDC_DEFAULTS: dict[str, Any] = {
    field: authorizer.DICOMWEB_AUTHORIZER_DEFAULTS.get(field)
    for field in ("issuer", "audiences", "jwks_uri", "groups_claim", "personas", "provisioned_concurrency")
}
#: The most provisioned concurrency ``dicomweb_oidc.provisioned_concurrency`` accepts: the authorizer's default
#: reserved concurrency, which the data store leaves as it is (Lambda keeps no more copies ready than may run).
MAX_PROVISIONED_CONCURRENCY: int = authorizer.DICOMWEB_AUTHORIZER_DEFAULTS["reserved_concurrency"]

#: A Lambda function ARN as HealthImaging's model accepts it (``LambdaArn``), with its parts; partition ``aws`` only.
_LAMBDA_ARN = re.compile(
    r"arn:aws:lambda:(?P<region>[a-z]{2}-[a-z]+-\d):(?P<account>\d{12}):function:(?P<name>[a-zA-Z0-9_-]{1,64})"
    r"(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9_-]{1,128}))?"
)


#: How a drift warning names each create-only member of the data store (CreateDatastore's and aws-native's names).
CREATE_ONLY_LABELS = {
    "datastoreName": "name",
    "kmsKeyArn": "KMS key",
    "tags": "tags",
    "losslessStorageFormat": "lossless storage format",
    "lambdaAuthorizerArn": "authorizer",
}


def create_only_drift_warning(member: str, deployed: Any, desired: Any) -> str:
    """The warning for a create-only member whose configured value is not the deployed data store's: the change is
    ignored (replacing the data store would lose access to its image sets)."""
    return (
        f"The deployed data store's {CREATE_ONLY_LABELS[member]} ({deployed!r}) differs from the configuration "
        f"({desired!r}). It was fixed when the data store was created and replacing a data store loses access to its "
        "image sets, so the change is ignored. Restore the setting, or see docs/security-and-data-safety.md, 'Changing "
        "the data store', to move the images to a new data store deliberately."
    )


def uses_created_datastore(args: Mapping[str, Any]) -> bool:
    """Whether the data store needs the creator function: a JPEG 2000 format or an authorizer. Without either it stays
    the aws-native resource, exactly as before these options existed."""
    return (
        args.get("lossless_storage_format", FORMAT_HTJ2K) != FORMAT_HTJ2K
        or bool(args.get("lambda_authorizer_arn"))
        or bool(args.get("dicomweb_oidc"))
    )


def dicomweb_oidc_problems(setting: str, value: Any, field_name: Callable[[str], str] | None = None) -> list[str]:
    """Problems with ``dicomweb_oidc``: a mapping of known fields, which follow the authorizer's rules
    (:func:`components.dicomweb_authorizer.token_settings_problems`, the one home of those rules; provisioned
    concurrency up to :data:`MAX_PROVISIONED_CONCURRENCY`). ``field_name(field)`` names a field as the person wrote it
    (``jwksUri`` in a stack setting); by default ``<setting>.<field>``."""
    name = field_name or (lambda field: f"{setting}.{field}")
    if not isinstance(value, Mapping):
        return [
            f"{setting} = {show(value)}: expected a mapping with issuer, audiences and personas, for example "
            "{issuer: https://login.example.org, audiences: [viewer], personas: {reader: [radiology]}}."
        ]
    problems = [
        f"{name(str(field))} is not a field of {setting}; the fields are "
        f"{', '.join(name(known) for known in DICOMWEB_OIDC_DEFAULTS)}."
        for field in value
        if field not in DICOMWEB_OIDC_DEFAULTS
    ]
    fields = {field: value[field] for field in DICOMWEB_OIDC_DEFAULTS if field in value}
    names = {field: name(field) for field in DICOMWEB_OIDC_DEFAULTS}
    return problems + authorizer.token_settings_problems(fields, names, reserved_concurrency_settable=False)


def lambda_authorizer_arn_problems(setting: str, arn: Any, *, account_id: str, region: str) -> list[str]:
    """An existing Lambda function of this account and region (optionally with a version or alias)."""
    match = _LAMBDA_ARN.fullmatch(arn) if isinstance(arn, str) else None
    if match is None:
        return [
            f"{setting} = {show(arn)} is not a Lambda function ARN: expected "
            f"arn:aws:lambda:{region}:{account_id}:function:<name>[:<alias or version>]."
        ]
    problems = []
    if match["account"] != account_id:
        problems.append(
            f"{setting} = {show(arn)} is a function of account {match['account']}, not of this account "
            f"{account_id}: HealthImaging invokes an authorizer of the data store's own account only."
        )
    if match["region"] != region:
        problems.append(
            f"{setting} = {show(arn)} is a function of region {match['region']}, not of the data store's region "
            f"{region}: deploy the authorizer in {region}."
        )
    return problems


def creation_option_problems(args: Mapping[str, Any], n: Callable[[str], str]) -> list[str]:
    """Every problem with the creation-time options of :class:`~components.datastore.ImagingDatastore` (``n`` names
    an argument as the person wrote it)."""
    problems = validation.choice_problems(
        n("lossless_storage_format"), args.get("lossless_storage_format", FORMAT_HTJ2K), LOSSLESS_STORAGE_FORMATS
    )
    oidc, authorizer_arn = args.get("dicomweb_oidc"), args.get("lambda_authorizer_arn")
    if oidc and authorizer_arn:
        problems.append(
            f"{n('dicomweb_oidc')} and {n('lambda_authorizer_arn')} are both set: a data store has one authorizer. "
            f"Keep {n('dicomweb_oidc')} to have the authorizer built, or {n('lambda_authorizer_arn')} to use your own."
        )
    if oidc:

        def field_name(field: str) -> str:
            shown = n(f"dicomweb_oidc.{field}")  # a stack key's field (dicomwebOidc.jwksUri), when the caller maps it
            return shown if shown != f"dicomweb_oidc.{field}" else f"{n('dicomweb_oidc')}.{field}"

        oidc_problems = dicomweb_oidc_problems(n("dicomweb_oidc"), oidc, field_name)
        problems += oidc_problems
        if not oidc_problems and isinstance(args.get("account_id"), str) and isinstance(args.get("name_prefix"), str):
            # The settings the built authorizer's function would carry must fit Lambda's environment.
            built = {**oidc, "account_id": args["account_id"], "name_prefix": args["name_prefix"]}
            if isinstance(args.get("path"), str):
                built["path"] = args["path"]
            problems += authorizer.environment_size_problems(
                built, {field: field_name(field) for field in DICOMWEB_OIDC_DEFAULTS}
            )
    if authorizer_arn and isinstance(args.get("account_id"), str) and isinstance(args.get("region"), str):
        problems += lambda_authorizer_arn_problems(
            n("lambda_authorizer_arn"), authorizer_arn, account_id=args["account_id"], region=args["region"]
        )
    if uses_created_datastore(args) and not args.get("name_prefix"):
        problems.append(
            f"{n('name_prefix')} is not set: with {n('lossless_storage_format')} = "
            f"{args.get('lossless_storage_format', FORMAT_HTJ2K)!r} or an authorizer, the data store is created by a "
            "function of this stack, and the prefix names it, its role and the authorizer (for example 'ahi-dev')."
        )
    return problems
