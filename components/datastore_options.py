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
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pulumi

from . import validation
from .validation._text import show

FORMAT_HTJ2K = "HTJ2K"
FORMAT_JPEG_2000_LOSSLESS = "JPEG_2000_LOSSLESS"
#: ``losslessStorageFormat`` as HealthImaging's API model lists it; the first is the service's default.
LOSSLESS_STORAGE_FORMATS = (FORMAT_HTJ2K, FORMAT_JPEG_2000_LOSSLESS)

#: The personas a token's groups can map to (``dicomweb_oidc.personas``).
DICOMWEB_PERSONAS = ("reader", "importer", "admin")
#: The fields of ``dicomweb_oidc`` and their defaults (None: required, or derived as the description says).
DICOMWEB_OIDC_DEFAULTS: dict[str, Any] = {
    "issuer": None,
    "audiences": None,
    "jwks_uri": None,  # <issuer>/.well-known/jwks.json
    "groups_claim": "cognito:groups",
    "personas": None,
    "provisioned_concurrency": 1,
}
#: The most provisioned concurrency ``dicomweb_oidc.provisioned_concurrency`` accepts (each instance costs money).
MAX_PROVISIONED_CONCURRENCY = 10

#: A Lambda function ARN as HealthImaging's model accepts it (``LambdaArn``), with its parts; partition ``aws`` only.
_LAMBDA_ARN = re.compile(
    r"arn:aws:lambda:(?P<region>[a-z]{2}-[a-z]+-\d):(?P<account>\d{12}):function:(?P<name>[a-zA-Z0-9_-]{1,64})"
    r"(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9_-]{1,128}))?"
)


def default_jwks_uri(issuer: str) -> str:
    """Where an issuer publishes its keys when ``jwks_uri`` is not given: ``<issuer>/.well-known/jwks.json``."""
    return f"{issuer.rstrip('/')}/.well-known/jwks.json"


def dicomweb_url(region: str, datastore_id: str) -> str:
    """The DICOMweb root of a data store (QIDO-RS, WADO-RS and STOW-RS paths go below it)."""
    return f"https://dicom-medical-imaging.{region}.amazonaws.com/datastore/{datastore_id}"


def uses_created_datastore(args: Mapping[str, Any]) -> bool:
    """Whether the data store needs the creator function: a JPEG 2000 format or an authorizer. Without either it stays
    the aws-native resource, exactly as before these options existed."""
    return (
        args.get("lossless_storage_format", FORMAT_HTJ2K) != FORMAT_HTJ2K
        or bool(args.get("lambda_authorizer_arn"))
        or bool(args.get("dicomweb_oidc"))
    )


def _https_url_problems(setting: str, value: Any, what: str) -> list[str]:
    if not isinstance(value, str) or not value:
        return [f"{setting} = {show(value)}: give the {what} as an https URL, for example 'https://login.example.org'."]
    parts = urllib.parse.urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        return [f"{setting} = {show(value)}: the {what} must be an https URL (tokens and keys only over TLS)."]
    if parts.query or parts.fragment or parts.username or parts.password:
        return [f"{setting} = {show(value)}: the {what} must have no query, fragment, user name or password."]
    return []


def _strings_problems(setting: str, value: Any, what: str, example: str) -> list[str]:
    """A non-empty list of non-empty strings."""
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        return [f"{setting} = {show(value)}: give at least one {what} as a list, for example [{example}]."]
    return [
        f"{setting}[{index}] = {show(item)}: each {what} must be a non-empty string."
        for index, item in enumerate(value)
        if not isinstance(item, str) or not item.strip()
    ]


def dicomweb_oidc_problems(setting: str, value: Any, field_name: Callable[[str], str] | None = None) -> list[str]:
    """Problems with ``dicomweb_oidc``: an https ``issuer``, at least one audience, an https ``jwks_uri`` if given, a
    ``groups_claim``, ``personas`` that are known and each map at least one group, a provisioned concurrency from 0 to
    :data:`MAX_PROVISIONED_CONCURRENCY`. ``field_name(field)`` names a field as the person wrote it (``jwksUri`` in a
    stack setting); by default ``<setting>.<field>``."""
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
    # An output (the viewer's user pool and client, created by the same program) is checked where it is made.
    if not isinstance(value.get("issuer"), pulumi.Output):
        problems += _https_url_problems(name("issuer"), value.get("issuer"), "issuer")
    if not isinstance(value.get("audiences"), pulumi.Output):
        problems += _strings_problems(name("audiences"), value.get("audiences"), "audience", "my-viewer-client-id")
    if value.get("jwks_uri") is not None:
        problems += _https_url_problems(name("jwks_uri"), value["jwks_uri"], "JWKS location")
    claim = value.get("groups_claim", DICOMWEB_OIDC_DEFAULTS["groups_claim"])
    if not isinstance(claim, str) or not claim.strip():
        problems.append(f"{name('groups_claim')} = {show(claim)}: name the token claim that lists the groups.")
    problems += _personas_problems(name("personas"), value.get("personas"))
    problems += validation.whole_number_problems(
        name("provisioned_concurrency"),
        value.get("provisioned_concurrency", DICOMWEB_OIDC_DEFAULTS["provisioned_concurrency"]),
        0,
        MAX_PROVISIONED_CONCURRENCY,
    )
    return problems


def _personas_problems(setting: str, personas: Any) -> list[str]:
    known = ", ".join(repr(p) for p in DICOMWEB_PERSONAS)
    if not isinstance(personas, Mapping) or not personas:
        return [
            f"{setting} = {show(personas)}: map at least one persona ({known}) to the groups whose members get it, "
            "for example {reader: [radiology], admin: [imaging-admins]}."
        ]
    problems = []
    for persona, groups in personas.items():
        if persona not in DICOMWEB_PERSONAS:
            problems.append(
                f"{setting} names the persona {show(persona)}, which does not exist; the personas are {known}."
            )
        problems += _strings_problems(f"{setting}.{persona}", groups, "group", "radiology")
    return problems


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

        problems += dicomweb_oidc_problems(n("dicomweb_oidc"), oidc, field_name)
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
