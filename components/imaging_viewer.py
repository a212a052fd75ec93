"""A viewer for the whole team: the OHIF Viewer on CloudFront, sign-in with OIDC, DICOMweb straight from the data store.

:class:`ImagingViewer` creates:

- the app's files in a :class:`~components.secure_bucket.SecureBucket` (private, encrypted, versioned), one
  ``aws.s3.BucketObjectv2`` per file with its content type and cache policy (:mod:`components.viewer_files`): Pulumi
  diffs each file by the hash of its content, so ``pulumi up`` uploads only the files that changed; and the generated
  ``app-config.js`` (:mod:`components.viewer_app_config`);
- a CloudFront distribution in front of it with origin access control (the bucket is never public and has no website
  endpoint; its policy lets this distribution only read it), HTTPS only, HTTP/2 and HTTP/3, compression, a cache
  policy that follows each file's Cache-Control, a response headers policy (strict CSP, HSTS, nosniff, frames
  denied, referrer policy: :mod:`components.viewer_policies`), ``index.html`` as root object and a CloudFront
  Function for single-page routing; an optional custom domain (ACM certificate in us-east-1, TLS 1.2 or newer) and an
  optional WAF web ACL; access logs delivered to the stack's log bucket (CloudFront standard logging v2);
- unless the team's own OIDC provider is given, a Cognito user pool: no self sign-up, users created by an
  administrator, MFA required (TOTP), passwords of at least 12 characters, one group per persona's group, the hosted
  sign-in domain, and a public app client (authorization code with PKCE, no secret) whose callback and sign-out URLs
  are on the viewer's domain.

The data store's authorizer needs the client ID and the issuer when the data store is created, and the app's
configuration needs the data store's DICOMweb root: ``dicomweb_url`` may be an output resolved later
(``pulumi.deferred_output()``), so the program creates the viewer, then the data store with the viewer's
``issuer`` and ``client_id``, then resolves it. The distribution does not depend on the data store (the CSP names the
DICOMweb host, which the region decides), and the client depends on the distribution: no cycle.
"""

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NotRequired, Optional, TypedDict

import pulumi
import pulumi_aws as aws

from ahiops.dicomweb import dicomweb_url as dicomweb_root

from . import policies, validation
from ._arguments import tags_of, with_defaults
from ._resource_options import PACKAGE, child_options, remember_caller_options
from .secure_bucket import SecureBucket
from .viewer_app_config import CALLBACK_PATH, LOGOUT_PATH, SCOPE, ViewerSignIn, app_config, app_config_js
from .viewer_files import APP_CONFIG, INDEX, REVALIDATE, app_dir_problems, app_files, inline_script_hashes
from .viewer_options import (
    CUSTOM_DOMAIN_SECURITY_POLICY,
    MIN_PASSWORD_LENGTH,
    VIEWER_DEFAULTS,
    cognito_issuer,
    creates_user_pool,
    hosted_sign_in_origin,
    user_pool_domain_prefix,
    validate_viewer_args,
    viewer_warnings,
)
from .viewer_policies import (
    SPA_ROUTING_FUNCTION,
    bucket_policy_statements,
    content_security_policy,
    origin_of,
    security_headers_config,
)

#: The origin ID of the app's bucket in the distribution.
ORIGIN_ID = "viewer-app"
#: Where the distribution's access logs go in the log bucket.
ACCESS_LOG_PREFIX = "cloudfront/viewer/"
#: CloudFront's log delivery sources live in this region, whatever the stack's.
LOG_DELIVERY_REGION = policies.CLOUDFRONT_LOG_DELIVERY_REGION


class ImagingViewerArgs(TypedDict):
    """Arguments of :class:`ImagingViewer`."""

    account_id: str
    """The 12-digit AWS account (bucket policy, certificate check)."""
    region: str
    """The region of the data store and the user pool."""
    name_prefix: str
    """Prefix of the names the component gives (bucket, user pool, sign-in domain), for example ``ahi-dev``."""
    app_dir: str
    """The directory of the OHIF Viewer's built app (``index.html`` at its top): the pinned ``@ohif/app`` package's
    ``dist/``. Its files are uploaded; its ``app-config.js`` is replaced by the generated one."""
    dicomweb_url: pulumi.Input[str]
    """The data store's DICOMweb root (``ImagingDatastore.dicomweb_url``); may be an output resolved later."""
    log_bucket_arn: NotRequired[pulumi.Input[str]]
    """Default: none (no access logs). ARN of the bucket that receives the distribution's access logs (under
    ``cloudfront/viewer/``); its policy must let ``delivery.logs.amazonaws.com`` write there
    (:func:`components.policies.vended_log_delivery_statement`; ``ImagingBucketPair``'s ``log_delivery_prefixes``)."""
    personas: NotRequired[Mapping[str, Sequence[str]]]
    """Default: ``{"reader": ["reader"], "importer": ["importer"], "admin": ["admin"]}``. Persona -> the groups
    whose members get it; the created user pool gets one group per name."""
    oidc_issuer: NotRequired[str]
    """Default: none: a Cognito user pool of the stack. The team's own OIDC provider's issuer (an https URL); no
    user pool is created then."""
    oidc_client_id: NotRequired[str]
    """Default: none. With ``oidc_issuer``: the client ID of the viewer registered in that provider (public client,
    authorization code with PKCE, redirect URI ``<viewer URL>/callback``)."""
    custom_domain: NotRequired[str]
    """Default: none: the distribution's ``*.cloudfront.net`` name, whose default certificate fixes CloudFront's TLS
    security policy. A host name of your own (point it at the distribution yourself): needs ``certificate_arn``;
    TLS 1.2 or newer (``TLSv1.2_2021``)."""
    certificate_arn: NotRequired[str]
    """Default: none. ARN of an ACM certificate in us-east-1 of this account covering ``custom_domain``."""
    web_acl_arn: NotRequired[str]
    """Default: none (logs a warning). ARN of a WAF web ACL with scope CLOUDFRONT to put in front of the viewer."""
    price_class: NotRequired[str]
    """Default: ``PriceClass_100`` (North America and Europe edge locations). ``PriceClass_200`` or
    ``PriceClass_All``."""
    protect_data: NotRequired[bool]
    """Default: True. ``protect`` and ``retain_on_delete`` on the user pool (its users are kept)."""
    tags: NotRequired[Mapping[str, str]]
    """Default: none. Tags of every resource that takes them."""


def validate_imaging_viewer_args(args: Mapping[str, Any], names: Optional[Mapping[str, str]] = None) -> list[str]:
    """Every problem with the arguments (the stack's rules, and the app's directory), naming each argument."""
    shown = (names or {}).get("app_dir", "app_dir")
    return validate_viewer_args(args, names) + app_dir_problems(shown, args.get("app_dir"))


def group_names(personas: Mapping[str, Sequence[str]]) -> list[str]:
    """Every group named by the personas, once, in order."""
    return list(dict.fromkeys(group for groups in personas.values() for group in groups))


class ImagingViewer(pulumi.ComponentResource):
    """The OHIF Viewer for a HealthImaging data store, on CloudFront with OIDC sign-in (see the module docstring)."""

    viewer_url: pulumi.Output[str]
    """``https://<custom domain or distribution domain>``."""
    distribution_id: pulumi.Output[str]
    bucket_name: pulumi.Output[str]
    issuer: pulumi.Output[str]
    """The OIDC issuer tokens come from (the user pool's, or ``oidc_issuer``)."""
    client_id: pulumi.Output[str]
    """The viewer's OIDC client ID: the audience the data store's authorizer accepts."""
    user_pool_id: pulumi.Output[Optional[str]]
    """The created user pool's ID, or None with the team's own provider."""

    def __init__(self, name: str, args: ImagingViewerArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        validation.raise_if_problems(f"ImagingViewer {name!r}", validate_imaging_viewer_args(args))
        super().__init__(f"{PACKAGE}:index:ImagingViewer", name, None, opts)
        remember_caller_options(self, opts)
        for warning in viewer_warnings(args):
            pulumi.log.warn(warning, resource=self)
        self._tags = tags_of(args)
        account_id, region, prefix = args["account_id"], args["region"], args["name_prefix"]
        app_dir = Path(args["app_dir"])
        opts_ = child_options(self)

        bucket = SecureBucket(
            f"{name}-app",
            {
                "account_id": account_id,
                "bucket_prefix": f"{prefix}-viewer-",
                # The policy (TLS only, this distribution only) is set below, once the distribution exists.
                "require_tls": False,
                # The app is rebuilt from the package on every deployment: nothing in the bucket is kept.
                "force_destroy": True,
                "protect_data": False,
                "tags": self._tags or {},
            },
            pulumi.ResourceOptions(parent=self),
        )

        domain_prefix = user_pool_domain_prefix(prefix, account_id)
        pool_creation = creates_user_pool(args)
        identity_origin = (
            hosted_sign_in_origin(domain_prefix, region) if pool_creation else origin_of(args.get("oidc_issuer") or "")
        )
        connect = [origin_of(dicomweb_root(region, "x")), identity_origin]
        if pool_creation:
            connect.append(origin_of(cognito_issuer(region, "x")))
        csp = content_security_policy(
            connect_origins=connect, script_hashes=inline_script_hashes((app_dir / INDEX).read_text())
        )
        distribution = self._distribution(name, args, bucket, csp)
        viewer_url = (
            pulumi.Output.from_input(f"https://{args.get('custom_domain')}")
            if args.get("custom_domain")
            else distribution.domain_name.apply(lambda domain: f"https://{domain}")
        )
        aws.s3.BucketPolicy(
            f"{name}-app-policy",
            bucket=bucket.bucket_name,
            policy=pulumi.Output.all(bucket.bucket_arn, distribution.arn).apply(
                lambda v: json.dumps(
                    policies.bucket_policy(
                        v[0], require_tls=True, extra_statements=bucket_policy_statements(v[0], v[1])
                    )
                )
            ),
            opts=opts_,
        )

        if pool_creation:
            pool_id, client_id = self._user_pool(name, args, domain_prefix, viewer_url)
            issuer = pool_id.apply(lambda pool: cognito_issuer(region, pool))
            user_pool_id: pulumi.Output[Optional[str]] = pool_id
        else:
            issuer = pulumi.Output.from_input(args.get("oidc_issuer") or "")
            client_id = pulumi.Output.from_input(args.get("oidc_client_id") or "")
            user_pool_id = pulumi.Output.from_input(None)

        for file in app_files(app_dir):
            aws.s3.BucketObjectv2(
                f"{name}-file-{file.key}",
                bucket=bucket.bucket_name,
                key=file.key,
                source=pulumi.FileAsset(str(file.path)),
                content_type=file.content_type,
                cache_control=file.cache_control,
                opts=opts_,
            )
        config = pulumi.Output.all(pulumi.Output.from_input(args["dicomweb_url"]), issuer, client_id, viewer_url).apply(
            lambda v: app_config_js(app_config(v[0], ViewerSignIn(authority=v[1], client_id=v[2], viewer_url=v[3])))
        )
        aws.s3.BucketObjectv2(
            f"{name}-file-{APP_CONFIG}",
            bucket=bucket.bucket_name,
            key=APP_CONFIG,
            content=config,
            content_type="text/javascript; charset=utf-8",
            cache_control=REVALIDATE,
            opts=opts_,
        )

        if args.get("log_bucket_arn"):
            self._access_logs(name, prefix, args["log_bucket_arn"], distribution)

        self.viewer_url = viewer_url
        self.distribution_id = distribution.id
        self.bucket_name = bucket.bucket_name
        self.issuer = issuer
        self.client_id = client_id
        self.user_pool_id = user_pool_id
        self.register_outputs(
            {
                "viewer_url": self.viewer_url,
                "distribution_id": self.distribution_id,
                "bucket_name": self.bucket_name,
                "issuer": self.issuer,
                "client_id": self.client_id,
                "user_pool_id": self.user_pool_id,
            }
        )

    def _distribution(
        self, name: str, args: ImagingViewerArgs, bucket: SecureBucket, csp: str
    ) -> aws.cloudfront.Distribution:
        value = with_defaults(args, VIEWER_DEFAULTS)
        opts = child_options(self)
        access_control = aws.cloudfront.OriginAccessControl(
            f"{name}-origin-access",
            name=f"{args['name_prefix']}-viewer",
            description="CloudFront signs its requests to the viewer's bucket (SigV4)",
            origin_access_control_origin_type="s3",
            signing_behavior="always",
            signing_protocol="sigv4",
            opts=opts,
        )
        cache_policy = aws.cloudfront.CachePolicy(
            f"{name}-cache",
            name=f"{args['name_prefix']}-viewer-cache",
            comment="Follows each file's Cache-Control: hashed bundles a year, index.html and app-config.js revalidated",
            min_ttl=0,
            default_ttl=0,
            max_ttl=31536000,
            parameters_in_cache_key_and_forwarded_to_origin={
                "cookies_config": {"cookie_behavior": "none"},
                "headers_config": {"header_behavior": "none"},
                "query_strings_config": {"query_string_behavior": "none"},
                "enable_accept_encoding_gzip": True,
                "enable_accept_encoding_brotli": True,
            },
            opts=opts,
        )
        headers_args: dict[str, Any] = {
            "name": f"{args['name_prefix']}-viewer-headers",
            "comment": "Strict CSP, HSTS, nosniff, frames denied, referrer policy",
            "security_headers_config": security_headers_config(csp),
        }
        headers = aws.cloudfront.ResponseHeadersPolicy(f"{name}-headers", **headers_args, opts=opts)
        routing = aws.cloudfront.Function(
            f"{name}-routing",
            name=f"{args['name_prefix']}-viewer-routing",
            runtime="cloudfront-js-2.0",
            comment="Routes the app's paths (no file extension) to /index.html",
            code=SPA_ROUTING_FUNCTION,
            publish=True,
            opts=opts,
        )
        domain = args.get("custom_domain")
        certificate = (
            {
                "acm_certificate_arn": args.get("certificate_arn"),
                "ssl_support_method": "sni-only",
                "minimum_protocol_version": CUSTOM_DOMAIN_SECURITY_POLICY,
            }
            if domain
            else {"cloudfront_default_certificate": True}
        )
        distribution_args: dict[str, Any] = {
            "enabled": True,
            "comment": f"OHIF Viewer of {args['name_prefix']}",
            "is_ipv6_enabled": True,
            "http_version": "http2and3",
            "price_class": value("price_class"),
            "default_root_object": INDEX,
            "aliases": [domain] if domain else None,
            "web_acl_id": args.get("web_acl_arn") or None,
            "origins": [
                {
                    "origin_id": ORIGIN_ID,
                    "domain_name": bucket.bucket_name.apply(lambda b: f"{b}.s3.{args['region']}.amazonaws.com"),
                    "origin_access_control_id": access_control.id,
                }
            ],
            "default_cache_behavior": {
                "target_origin_id": ORIGIN_ID,
                "viewer_protocol_policy": "redirect-to-https",
                "allowed_methods": ["GET", "HEAD"],
                "cached_methods": ["GET", "HEAD"],
                "compress": True,
                "cache_policy_id": cache_policy.id,
                "response_headers_policy_id": headers.id,
                "function_associations": [{"event_type": "viewer-request", "function_arn": routing.arn}],
            },
            "restrictions": {"geo_restriction": {"restriction_type": "none"}},
            "viewer_certificate": certificate,
            "tags": self._tags,
        }
        return aws.cloudfront.Distribution(f"{name}-distribution", **distribution_args, opts=opts)

    def _user_pool(
        self, name: str, args: ImagingViewerArgs, domain_prefix: str, viewer_url: pulumi.Output[str]
    ) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
        """The user pool, its groups, hosted domain and the viewer's app client: (pool ID, client ID)."""
        value = with_defaults(args, VIEWER_DEFAULTS)
        protect = value("protect_data")
        pool = aws.cognito.UserPool(
            f"{name}-users",
            name=f"{args['name_prefix']}-viewer-users",
            admin_create_user_config={"allow_admin_create_user_only": True},
            mfa_configuration="ON",
            software_token_mfa_configuration={"enabled": True},
            password_policy={
                "minimum_length": MIN_PASSWORD_LENGTH,
                "require_lowercase": True,
                "require_uppercase": True,
                "require_numbers": True,
                "require_symbols": True,
                "temporary_password_validity_days": 3,
            },
            account_recovery_setting={"recovery_mechanisms": [{"name": "verified_email", "priority": 1}]},
            auto_verified_attributes=["email"],
            username_attributes=["email"],
            deletion_protection="ACTIVE" if protect else "INACTIVE",
            tags=self._tags,
            opts=child_options(self, protect_data=protect),
        )
        opts = child_options(self)
        for group in group_names(value("personas")):
            aws.cognito.UserGroup(
                f"{name}-group-{group}",
                name=group,
                user_pool_id=pool.id,
                description="Viewer users of this group (persona mapping in the data store's authorizer)",
                opts=opts,
            )
        aws.cognito.UserPoolDomain(f"{name}-sign-in-domain", domain=domain_prefix, user_pool_id=pool.id, opts=opts)
        client = aws.cognito.UserPoolClient(
            f"{name}-client",
            name=f"{args['name_prefix']}-viewer",
            user_pool_id=pool.id,
            generate_secret=False,
            allowed_oauth_flows_user_pool_client=True,
            allowed_oauth_flows=["code"],
            allowed_oauth_scopes=[SCOPE],
            supported_identity_providers=["COGNITO"],
            callback_urls=[viewer_url.apply(lambda url: url + CALLBACK_PATH)],
            logout_urls=[viewer_url.apply(lambda url: url + LOGOUT_PATH)],
            explicit_auth_flows=["ALLOW_REFRESH_TOKEN_AUTH"],
            prevent_user_existence_errors="ENABLED",
            enable_token_revocation=True,
            access_token_validity=60,
            id_token_validity=60,
            refresh_token_validity=12,
            token_validity_units={"access_token": "minutes", "id_token": "minutes", "refresh_token": "hours"},
            opts=opts,
        )
        return pool.id, client.id

    def _access_logs(
        self, name: str, prefix: str, log_bucket_arn: pulumi.Input[str], distribution: aws.cloudfront.Distribution
    ) -> None:
        """CloudFront standard logging (v2) into the log bucket: the log bucket enforces bucket ownership (no ACLs),
        which the legacy logging needs."""
        opts = child_options(self)
        source = aws.cloudwatch.LogDeliverySource(
            f"{name}-access-log-source",
            name=f"{prefix}-viewer-access-logs",
            log_type="ACCESS_LOGS",
            resource_arn=distribution.arn,
            region=LOG_DELIVERY_REGION,
            opts=opts,
        )
        destination = aws.cloudwatch.LogDeliveryDestination(
            f"{name}-access-log-destination",
            name=f"{prefix}-viewer-log-bucket",
            output_format="parquet",
            delivery_destination_configuration={
                "destination_resource_arn": pulumi.Output.from_input(log_bucket_arn).apply(
                    lambda arn: f"{arn}/{ACCESS_LOG_PREFIX.rstrip('/')}"
                )
            },
            region=LOG_DELIVERY_REGION,
            opts=opts,
        )
        aws.cloudwatch.LogDelivery(
            f"{name}-access-logs",
            delivery_source_name=source.name,
            delivery_destination_arn=destination.arn,
            region=LOG_DELIVERY_REGION,
            opts=opts,
        )


def viewer_identity(viewer: ImagingViewer) -> dict[str, Any]:
    """``issuer`` and ``audiences`` of the data store's ``dicomweb_oidc`` from the viewer (outputs)."""
    return {"issuer": viewer.issuer, "audiences": viewer.client_id.apply(lambda client: [client])}
