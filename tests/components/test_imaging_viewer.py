"""ImagingViewer under Pulumi's mocks: the exact bucket policy, headers policy, distribution, user pool, groups and
app client; the app's files with their content types and cache policies; the team's own provider."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pytest

from ahictl.mockrun import ProgramRun
from components import ImagingViewer, InvalidInputError
from components.viewer_files import IMMUTABLE, REVALIDATE, inline_script_hashes
from program.viewer_app_source import FIXTURE_APP_DIR
from testkit.mock_runs import DEV_ACCOUNT, DEV_REGION, policy_of, run_component

DICOMWEB = f"https://dicom-medical-imaging.{DEV_REGION}.amazonaws.com/datastore/{'a' * 32}"
LOG_BUCKET_ARN = f"arn:aws:s3:::ahi-dev-log-{DEV_ACCOUNT}-{DEV_REGION}-an"
CERTIFICATE = f"arn:aws:acm:us-east-1:{DEV_ACCOUNT}:certificate/0e2b5a3c-1d4f-4b6a-9c8d-7e6f5a4b3c2d"
WEB_ACL = f"arn:aws:wafv2:us-east-1:{DEV_ACCOUNT}:global/webacl/viewer/0e2b5a3c-1d4f-4b6a-9c8d-7e6f5a4b3c2d"
OWN_ISSUER = "https://login.example.org/realms/imaging"


def arguments(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "account_id": DEV_ACCOUNT,
        "region": DEV_REGION,
        "name_prefix": "ahi-dev",
        "app_dir": str(FIXTURE_APP_DIR),
        "dicomweb_url": DICOMWEB,
        "log_bucket_arn": LOG_BUCKET_ARN,
    }
    args.update(overrides)
    return {k: v for k, v in args.items() if v is not None}


def run(**overrides: Any) -> ProgramRun:
    def build() -> None:
        viewer = ImagingViewer("viewer", arguments(**overrides))  # type: ignore[arg-type]
        pulumi.export("viewerUrl", viewer.viewer_url)
        pulumi.export("userPoolId", viewer.user_pool_id)
        pulumi.export("clientId", viewer.client_id)
        pulumi.export("issuer", viewer.issuer)

    return run_component(build)


@pytest.fixture(scope="module")
def viewer() -> ProgramRun:
    return run()


def distribution_of(run_: ProgramRun) -> dict[str, Any]:
    return run_.one("aws:cloudfront/distribution:Distribution").inputs


def test_the_bucket_policy_lets_this_distribution_only_read_and_denies_old_tls(viewer: ProgramRun) -> None:
    bucket = viewer.one("aws:s3/bucket:Bucket").outputs["bucket"]
    distribution = viewer.one("aws:cloudfront/distribution:Distribution").outputs["arn"]
    policy = policy_of(viewer.one("aws:s3/bucketPolicy:BucketPolicy", "viewer-app-policy"))
    arn = f"arn:aws:s3:::{bucket}"
    assert policy["Statement"][-1] == {
        "Sid": "AllowThisDistributionOnly",
        "Effect": "Allow",
        "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Action": "s3:GetObject",
        "Resource": f"{arn}/*",
        "Condition": {"StringEquals": {"AWS:SourceArn": distribution}},
    }
    denies = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert {json.dumps(s["Condition"], sort_keys=True) for s in denies} == {
        '{"Bool": {"aws:SecureTransport": "false"}}',
        '{"NumericLessThan": {"s3:TlsVersion": "1.2"}}',
    }
    assert len(policy["Statement"]) == 3


def test_the_bucket_is_private_and_has_no_website(viewer: ProgramRun) -> None:
    block = viewer.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(block[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    assert not [r for r in viewer.resources if "Website" in r.type]
    origin = distribution_of(viewer)["origins"][0]
    assert origin["domainName"].endswith(f".s3.{DEV_REGION}.amazonaws.com")
    assert origin["originAccessControlId"] == viewer.one("aws:cloudfront/originAccessControl:OriginAccessControl").id
    assert "s3OriginConfig" not in origin
    assert "customOriginConfig" not in origin


def test_the_origin_access_control_signs_every_request(viewer: ProgramRun) -> None:
    access = viewer.one("aws:cloudfront/originAccessControl:OriginAccessControl").inputs
    assert (access["originAccessControlOriginType"], access["signingBehavior"], access["signingProtocol"]) == (
        "s3",
        "always",
        "sigv4",
    )


def test_the_distribution_serves_https_only_http2_and_3_compressed_with_the_index_as_root(viewer: ProgramRun) -> None:
    inputs = distribution_of(viewer)
    behaviour = inputs["defaultCacheBehavior"]
    assert (inputs["httpVersion"], inputs["defaultRootObject"], inputs["enabled"]) == ("http2and3", "index.html", True)
    assert behaviour["viewerProtocolPolicy"] == "redirect-to-https"
    assert behaviour["compress"] is True
    assert behaviour["allowedMethods"] == ["GET", "HEAD"]
    assert behaviour["functionAssociations"] == [
        {
            "eventType": "viewer-request",
            "functionArn": viewer.one("aws:cloudfront/function:Function").outputs["arn"],
        }
    ]
    assert "customErrorResponses" not in inputs
    assert inputs["viewerCertificate"] == {"cloudfrontDefaultCertificate": True}


def test_the_cache_policy_follows_each_files_cache_control(viewer: ProgramRun) -> None:
    cache = viewer.one("aws:cloudfront/cachePolicy:CachePolicy").inputs
    assert (cache["minTtl"], cache["defaultTtl"], cache["maxTtl"]) == (0, 0, 31536000)
    parameters = cache["parametersInCacheKeyAndForwardedToOrigin"]
    assert parameters["enableAcceptEncodingGzip"]
    assert parameters["enableAcceptEncodingBrotli"]
    assert (
        distribution_of(viewer)["defaultCacheBehavior"]["cachePolicyId"]
        == viewer.one("aws:cloudfront/cachePolicy:CachePolicy").id
    )


def test_the_headers_policy_is_exact(viewer: ProgramRun) -> None:
    headers = viewer.one("aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy").inputs
    scripts = " ".join(inline_script_hashes((FIXTURE_APP_DIR / "index.html").read_text()))
    assert headers["securityHeadersConfig"] == {
        "contentSecurityPolicy": {
            "contentSecurityPolicy": (
                "default-src 'self'; "
                f"script-src 'self' {scripts} 'wasm-unsafe-eval'; "
                "worker-src 'self' blob:; "
                f"connect-src 'self' https://dicom-medical-imaging.{DEV_REGION}.amazonaws.com "
                f"https://ahi-dev-viewer-{DEV_ACCOUNT}.auth.{DEV_REGION}.amazoncognito.com "
                f"https://cognito-idp.{DEV_REGION}.amazonaws.com; "
                "img-src 'self' data: blob:; font-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'; frame-src 'self'; "
                "upgrade-insecure-requests"
            ),
            "override": True,
        },
        "strictTransportSecurity": {
            "accessControlMaxAgeSec": 63072000,
            "includeSubdomains": True,
            "preload": True,
            "override": True,
        },
        "contentTypeOptions": {"override": True},
        "frameOptions": {"frameOption": "DENY", "override": True},
        "referrerPolicy": {"referrerPolicy": "strict-origin-when-cross-origin", "override": True},
    }
    assert scripts.count("'sha256-") == 1  # the fixture's one inline script; its script with src= is not hashed


def test_every_file_of_the_app_is_an_object_with_its_type_and_cache_policy(viewer: ProgramRun) -> None:
    objects = {r.inputs["key"]: r.inputs for r in viewer.by_type("aws:s3/bucketObjectv2:BucketObjectv2")}
    assert sorted(objects) == [
        "0ddf166f7a343eda.wasm",
        "app-config.js",
        "app.bundle.0f6159c501addfe9.js",
        "app.bundle.css",
        "index.html",
    ]
    assert (objects["index.html"]["contentType"], objects["index.html"]["cacheControl"]) == (
        "text/html; charset=utf-8",
        REVALIDATE,
    )
    assert objects["app.bundle.0f6159c501addfe9.js"]["cacheControl"] == IMMUTABLE
    assert objects["0ddf166f7a343eda.wasm"]["contentType"] == "application/wasm"
    assert objects["0ddf166f7a343eda.wasm"]["cacheControl"] == IMMUTABLE
    assert objects["app.bundle.css"]["cacheControl"] == REVALIDATE  # no hash in its name
    assert objects["app-config.js"]["cacheControl"] == REVALIDATE


def test_the_generated_configuration_replaces_the_packages(viewer: ProgramRun) -> None:
    content = viewer.one("aws:s3/bucketObjectv2:BucketObjectv2", "viewer-file-app-config.js").inputs["content"]
    config = json.loads(content.split("window.config = ", 1)[1].rstrip().rstrip(";"))
    source = config["dataSources"][0]["configuration"]
    assert (source["qidoRoot"], source["wadoRoot"]) == (DICOMWEB, DICOMWEB)
    url = viewer.outputs["viewerUrl"]
    assert config["oidc"][0]["authority"] == viewer.outputs["issuer"]
    assert config["oidc"][0]["client_id"] == viewer.outputs["clientId"]
    assert config["oidc"][0]["redirect_uri"] == f"{url}/callback"


def test_the_user_pool_admits_only_administrator_created_users_with_mfa_and_long_passwords(viewer: ProgramRun) -> None:
    pool = viewer.one("aws:cognito/userPool:UserPool")
    assert pool.inputs["adminCreateUserConfig"] == {"allowAdminCreateUserOnly": True}
    assert pool.inputs["mfaConfiguration"] == "ON"
    assert pool.inputs["softwareTokenMfaConfiguration"] == {"enabled": True}
    assert pool.inputs["passwordPolicy"]["minimumLength"] == 12
    assert pool.inputs["deletionProtection"] == "ACTIVE"
    assert pool.protect
    assert pool.retain_on_delete
    assert viewer.outputs["userPoolId"] == pool.id
    assert viewer.outputs["issuer"] == f"https://cognito-idp.{DEV_REGION}.amazonaws.com/{pool.id}"


def test_one_group_per_persona_by_default(viewer: ProgramRun) -> None:
    groups = viewer.by_type("aws:cognito/userGroup:UserGroup")
    assert sorted(g.inputs["name"] for g in groups) == ["admin", "importer", "reader"]


def test_the_groups_are_the_personas_group_names() -> None:
    run_ = run(personas={"reader": ["radiology", "cardiology"], "admin": ["imaging-admins"]})
    groups = run_.by_type("aws:cognito/userGroup:UserGroup")
    assert sorted(g.inputs["name"] for g in groups) == ["cardiology", "imaging-admins", "radiology"]


def test_the_hosted_sign_in_domain_is_named_after_prefix_and_account(viewer: ProgramRun) -> None:
    domain = viewer.one("aws:cognito/userPoolDomain:UserPoolDomain").inputs
    assert domain["domain"] == f"ahi-dev-viewer-{DEV_ACCOUNT}"


def test_the_app_client_is_public_with_the_code_flow_and_urls_on_the_distribution(viewer: ProgramRun) -> None:
    client = viewer.one("aws:cognito/userPoolClient:UserPoolClient").inputs
    domain = viewer.one("aws:cloudfront/distribution:Distribution").outputs["domainName"]
    assert viewer.outputs["viewerUrl"] == f"https://{domain}"
    assert {key: client[key] for key in sorted(client) if key not in ("name", "userPoolId")} == {
        "accessTokenValidity": 60,
        "allowedOauthFlows": ["code"],
        "allowedOauthFlowsUserPoolClient": True,
        "allowedOauthScopes": ["openid"],
        "callbackUrls": [f"https://{domain}/callback"],
        "enableTokenRevocation": True,
        "explicitAuthFlows": ["ALLOW_REFRESH_TOKEN_AUTH"],
        "generateSecret": False,
        "idTokenValidity": 60,
        "logoutUrls": [f"https://{domain}/signed-out"],
        "preventUserExistenceErrors": "ENABLED",
        "refreshTokenValidity": 12,
        "supportedIdentityProviders": ["COGNITO"],
        "tokenValidityUnits": {"accessToken": "minutes", "idToken": "minutes", "refreshToken": "hours"},
    }


def test_access_logs_go_to_the_log_bucket_through_a_delivery_in_us_east_1(viewer: ProgramRun) -> None:
    source = viewer.one("aws:cloudwatch/logDeliverySource:LogDeliverySource").inputs
    destination = viewer.one("aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination").inputs
    delivery = viewer.one("aws:cloudwatch/logDelivery:LogDelivery").inputs
    assert source["logType"] == "ACCESS_LOGS"
    assert source["resourceArn"] == viewer.one("aws:cloudfront/distribution:Distribution").outputs["arn"]
    assert destination["deliveryDestinationConfiguration"] == {
        "destinationResourceArn": f"{LOG_BUCKET_ARN}/cloudfront/viewer"
    }
    assert {source["region"], destination["region"], delivery["region"]} == {"us-east-1"}


def test_without_a_log_bucket_there_is_no_delivery() -> None:
    assert not run(log_bucket_arn=None).by_type("aws:cloudwatch/logDelivery:LogDelivery")


def test_a_custom_domain_gets_its_certificate_tls_1_2_and_the_web_acl() -> None:
    run_ = run(custom_domain="viewer.example.org", certificate_arn=CERTIFICATE, web_acl_arn=WEB_ACL)
    inputs = distribution_of(run_)
    assert inputs["aliases"] == ["viewer.example.org"]
    assert inputs["viewerCertificate"] == {
        "acmCertificateArn": CERTIFICATE,
        "sslSupportMethod": "sni-only",
        "minimumProtocolVersion": "TLSv1.2_2021",
    }
    assert inputs["webAclId"] == WEB_ACL
    assert run_.outputs["viewerUrl"] == "https://viewer.example.org"
    client = run_.one("aws:cognito/userPoolClient:UserPoolClient").inputs
    assert client["callbackUrls"] == ["https://viewer.example.org/callback"]
    assert not [w for w in run_.warnings if "WAF" in w]


def test_no_web_acl_is_reported(viewer: ProgramRun) -> None:
    assert [w for w in viewer.warnings if "no WAF web ACL (viewerWebAclArn)" in w]


def test_the_teams_own_provider_creates_no_user_pool_and_is_the_only_identity_host() -> None:
    run_ = run(oidc_issuer=OWN_ISSUER, oidc_client_id="viewer-spa")
    assert not [r for r in run_.resources if r.type.startswith("aws:cognito/")]
    assert (run_.outputs["issuer"], run_.outputs["clientId"], run_.outputs["userPoolId"]) == (
        OWN_ISSUER,
        "viewer-spa",
        None,
    )
    csp = run_.one("aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy").inputs["securityHeadersConfig"]
    connect = next(
        d for d in csp["contentSecurityPolicy"]["contentSecurityPolicy"].split("; ") if d.startswith("connect-src")
    )
    assert connect == (
        f"connect-src 'self' https://dicom-medical-imaging.{DEV_REGION}.amazonaws.com https://login.example.org"
    )


def test_an_app_directory_without_index_is_refused_before_anything_is_created(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError) as raised:
        ImagingViewer("viewer", arguments(app_dir=str(tmp_path)))  # type: ignore[arg-type]
    assert raised.value.problems == [
        f"app_dir = {str(tmp_path)!r} holds no index.html: give the directory of an unpacked OHIF Viewer build (the "
        "dist/ folder of the npm package @ohif/app)."
    ]
