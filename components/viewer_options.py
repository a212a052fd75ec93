"""The arguments of :class:`components.imaging_viewer.ImagingViewer`: defaults and rules (pure functions)."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from . import validation
from ._arguments import shown_as, with_defaults
from .datastore_options import DICOMWEB_PERSONAS
from .dicomweb_authorizer import personas_problems
from .validation._text import show

#: CloudFront takes the certificate of a custom domain from ACM in this region only.
CLOUDFRONT_CERTIFICATE_REGION = "us-east-1"
#: The oldest TLS a custom domain accepts (CloudFront's security policy); the default certificate fixes its own.
CUSTOM_DOMAIN_SECURITY_POLICY = "TLSv1.2_2021"
#: The shortest password the created user pool accepts.
MIN_PASSWORD_LENGTH = 12
#: Cognito's limits on a hosted sign-in domain prefix.
MAX_DOMAIN_PREFIX_LENGTH = 63

#: Default of every optional argument of :class:`ImagingViewer` (the one place each default lives).
VIEWER_DEFAULTS: dict[str, Any] = {
    "personas": {persona: [persona] for persona in DICOMWEB_PERSONAS},
    "price_class": "PriceClass_100",
    "protect_data": True,
}
PRICE_CLASSES = ("PriceClass_100", "PriceClass_200", "PriceClass_All")

_CERTIFICATE_ARN = re.compile(
    r"arn:aws:acm:(?P<region>[a-z]{2}-[a-z]+-\d):(?P<account>\d{12}):certificate/[0-9a-f-]{36}"
)
_WEB_ACL_ARN = re.compile(r"arn:aws:wafv2:us-east-1:\d{12}:global/webacl/[A-Za-z0-9_-]{1,128}/[0-9a-f-]{36}")
_DOMAIN = re.compile(r"(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


def user_pool_domain_prefix(name_prefix: str, account_id: str) -> str:
    """The created user pool's hosted sign-in domain prefix, unique in the region: ``<prefix>-viewer-<account>``."""
    return f"{name_prefix}-viewer-{account_id}"[:MAX_DOMAIN_PREFIX_LENGTH]


def hosted_sign_in_origin(domain_prefix: str, region: str) -> str:
    """The origin of the created user pool's hosted sign-in pages (its token endpoint is there too)."""
    return f"https://{domain_prefix}.auth.{region}.amazoncognito.com"


def cognito_issuer(region: str, user_pool_id: str) -> str:
    """A Cognito user pool's issuer URL (tokens carry it in ``iss``)."""
    return f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"


def creates_user_pool(args: Mapping[str, Any]) -> bool:
    """A user pool of the stack unless the team's own provider is given (``oidc_issuer``)."""
    return not args.get("oidc_issuer")


def custom_domain_problems(n: Callable[[str], str], domain: Any, certificate_arn: Any, *, account_id: Any) -> list[str]:
    """A custom domain needs an ACM certificate in us-east-1 of this account; a certificate needs a domain."""
    problems: list[str] = []
    if domain and (not isinstance(domain, str) or not _DOMAIN.fullmatch(domain)):
        problems.append(
            f"{n('custom_domain')} = {show(domain)}: give a lowercase host name, for example viewer.example.org."
        )
    if domain and not certificate_arn:
        problems.append(
            f"{n('custom_domain')} = {show(domain)} needs {n('certificate_arn')}: the ARN of an ACM certificate in "
            f"{CLOUDFRONT_CERTIFICATE_REGION} that covers {domain} (CloudFront serves no custom domain without one)."
        )
    if certificate_arn:
        match = _CERTIFICATE_ARN.fullmatch(certificate_arn) if isinstance(certificate_arn, str) else None
        if match is None:
            problems.append(
                f"{n('certificate_arn')} = {show(certificate_arn)} is not an ACM certificate ARN "
                f"(arn:aws:acm:{CLOUDFRONT_CERTIFICATE_REGION}:<account>:certificate/<id>)."
            )
        else:
            if match["region"] != CLOUDFRONT_CERTIFICATE_REGION:
                problems.append(
                    f"{n('certificate_arn')} = {show(certificate_arn)} is a certificate of {match['region']}: "
                    f"CloudFront uses certificates of {CLOUDFRONT_CERTIFICATE_REGION} only. Request or import it in "
                    f"ACM in {CLOUDFRONT_CERTIFICATE_REGION}."
                )
            if isinstance(account_id, str) and match["account"] != account_id:
                problems.append(
                    f"{n('certificate_arn')} = {show(certificate_arn)} belongs to account {match['account']}, not "
                    f"to this account {account_id}."
                )
        if not domain:
            problems.append(f"{n('certificate_arn')} is set without {n('custom_domain')}: set both, or neither.")
    return problems


def _https_problems(setting: str, value: Any) -> list[str]:
    parts = urllib.parse.urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme != "https" or not parts.hostname:
        return [f"{setting} = {show(value)}: the issuer must be an https URL (tokens and keys only over TLS)."]
    return []


def identity_problems(n: Callable[[str], str], args: Mapping[str, Any]) -> list[str]:
    """The team's own provider (issuer and client ID, both or neither), and the persona groups."""
    value = with_defaults(args, VIEWER_DEFAULTS)
    problems: list[str] = []
    issuer, client_id = args.get("oidc_issuer") or "", args.get("oidc_client_id") or ""
    if issuer:
        problems += _https_problems(n("oidc_issuer"), issuer)
        if not client_id:
            problems.append(
                f"{n('oidc_issuer')} is set without {n('oidc_client_id')}: register the viewer as a public client "
                "(authorization code with PKCE, no secret) in your provider and give its client ID."
            )
    elif client_id:
        problems.append(f"{n('oidc_client_id')} is set without {n('oidc_issuer')}: give your provider's issuer too.")
    personas = value("personas")
    problems += personas_problems(n("personas"), personas)
    if isinstance(personas, Mapping):
        for persona, groups in personas.items():
            names_a_list = isinstance(groups, Sequence) and not isinstance(groups, str)
            if names_a_list and not all(isinstance(g, str) and re.fullmatch(r"[\w+=,.@-]{1,128}", g) for g in groups):
                problems.append(
                    f"{n('personas')}.{persona} = {show(groups)}: group names are 1 to 128 letters, digits or "
                    "+=,.@_- (Cognito's rule)."
                )
    return problems


def validate_viewer_args(args: Mapping[str, Any], names: Mapping[str, str] | None = None) -> list[str]:
    """Every problem with the plain-valued arguments, as sentences naming the argument (empty when valid). The app's
    directory is checked by :func:`components.viewer_files.app_dir_problems` when the component is created (the stack
    finds or fetches it only once its settings pass these rules)."""
    n = shown_as(names)
    value = with_defaults(args, VIEWER_DEFAULTS)
    problems = validation.placement_problems(args, names)
    problems += custom_domain_problems(
        n, args.get("custom_domain") or "", args.get("certificate_arn") or "", account_id=args.get("account_id")
    )
    web_acl = args.get("web_acl_arn") or ""
    if web_acl and (not isinstance(web_acl, str) or not _WEB_ACL_ARN.fullmatch(web_acl)):
        problems.append(
            f"{n('web_acl_arn')} = {show(web_acl)}: give the ARN of a WAF web ACL with scope CLOUDFRONT "
            "(arn:aws:wafv2:us-east-1:<account>:global/webacl/<name>/<id>)."
        )
    problems += validation.choice_problems(n("price_class"), value("price_class"), PRICE_CLASSES)
    problems += identity_problems(n, args)
    return problems


def viewer_warnings(args: Mapping[str, Any]) -> list[str]:
    """One warning per protection the arguments leave out."""
    if not args.get("web_acl_arn"):
        return [
            "The viewer's distribution has no WAF web ACL (viewerWebAclArn): requests are not rate-limited or "
            "filtered before they reach CloudFront; the app is static and every DICOMweb request needs a token."
        ]
    return []
