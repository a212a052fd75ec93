"""The stack keys of the viewer: with viewer on, the data store's authorizer accepts the viewer's user pool and
client; the team's own provider replaces the pool; bad input is refused naming the key before anything is created;
the offline plan shows the viewer as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from ahictl import mockrun
from components import InvalidInputError
from program.settings import read_settings
from testkit.mock_runs import PROJECT_DIR, dev_config, run_program

ACCOUNT = "111122223333"
VALID = {"accountId": ACCOUNT, "region": "us-east-1", "viewer": "true"}
OWN = {
    "issuer": "https://login.example.org/realms/imaging",
    "audiences": ["viewer-spa", "scripts"],
    "personas": {"reader": ["radiology"], "admin": ["imaging-admins"]},
    "groupsClaim": "groups",
}


def problems_of(**values: Any) -> list[str]:
    raw = {**VALID, **{key: json.dumps(v) if isinstance(v, (dict, list)) else v for key, v in values.items()}}
    return read_settings("healthimaging-setup", "dev", lambda key: raw.get(key))[1]


@pytest.fixture(scope="module")
def viewer_run() -> mockrun.ProgramRun:
    return run_program(viewer=True)


def authorizer_environment(run: mockrun.ProgramRun) -> dict[str, str]:
    return run.one("aws:lambda/function:Function", "datastore-authorizer-function").inputs["environment"]["variables"]


def test_the_data_store_accepts_the_viewers_user_pool_and_client(viewer_run: mockrun.ProgramRun) -> None:
    pool = viewer_run.one("aws:cognito/userPool:UserPool")
    client = viewer_run.one("aws:cognito/userPoolClient:UserPoolClient")
    environment = authorizer_environment(viewer_run)
    assert environment["OIDC_ISSUER"] == f"https://cognito-idp.us-east-1.amazonaws.com/{pool.id}"
    assert json.loads(environment["OIDC_AUDIENCES"]) == [client.id]
    assert json.loads(environment["PERSONA_GROUPS"]) == {
        "admin": ["admin"],
        "importer": ["importer"],
        "reader": ["reader"],
    }
    assert environment["OIDC_GROUPS_CLAIM"] == "cognito:groups"


def test_the_data_store_is_created_with_the_authorizer(viewer_run: mockrun.ProgramRun) -> None:
    creation = json.loads(viewer_run.one("aws:lambda/invocation:Invocation").inputs["input"])
    assert creation["lambdaAuthorizerArn"] == viewer_run.outputs["datastoreLambdaAuthorizerArn"]
    assert creation["lambdaAuthorizerArn"].endswith(":function:ahi-dev-dicomweb-authorizer:live")


def test_the_viewer_reads_the_data_stores_dicomweb_root(viewer_run: mockrun.ProgramRun) -> None:
    content = viewer_run.one("aws:s3/bucketObjectv2:BucketObjectv2", "viewer-file-app-config.js").inputs["content"]
    assert json.dumps(viewer_run.outputs["dicomwebUrl"]) in content


def test_the_viewers_outputs(viewer_run: mockrun.ProgramRun) -> None:
    domain = viewer_run.one("aws:cloudfront/distribution:Distribution").outputs["domainName"]
    assert viewer_run.outputs["viewerUrl"] == f"https://{domain}"
    assert viewer_run.outputs["viewerUserPoolId"] == viewer_run.one("aws:cognito/userPool:UserPool").id


def test_without_the_viewer_there_are_no_viewer_outputs_and_no_cognito() -> None:
    run = run_program()
    assert "viewerUrl" not in run.outputs
    assert "viewerUserPoolId" not in run.outputs
    assert not [r for r in run.resources if r.type.startswith(("aws:cognito/", "aws:cloudfront/"))]


def test_the_log_bucket_accepts_the_distributions_access_logs_only(viewer_run: mockrun.ProgramRun) -> None:
    policy = json.loads(
        viewer_run.one("aws:s3/bucketPolicy:BucketPolicy", "import-buckets-logs-policy").inputs["policy"]
    )
    [statement] = [s for s in policy["Statement"] if s.get("Sid") == "AllowCloudFrontLogDelivery"]
    bucket = viewer_run.outputs["logBucketName"]
    assert statement == {
        "Sid": "AllowCloudFrontLogDelivery",
        "Effect": "Allow",
        "Principal": {"Service": "delivery.logs.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": [f"arn:aws:s3:::{bucket}/cloudfront/viewer/AWSLogs/{ACCOUNT}/*"],
        "Condition": {
            "StringEquals": {"aws:SourceAccount": ACCOUNT, "s3:x-amz-acl": "bucket-owner-full-control"},
            "ArnLike": {"aws:SourceArn": f"arn:aws:logs:us-east-1:{ACCOUNT}:delivery-source:*"},
        },
    }
    destination = viewer_run.one("aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination").inputs
    assert destination["deliveryDestinationConfiguration"]["destinationResourceArn"] == (
        f"arn:aws:s3:::{bucket}/cloudfront/viewer"
    )


def test_the_teams_own_provider_replaces_the_user_pool() -> None:
    run = run_program(viewer=True, dicomwebOidc=OWN)
    assert not run.by_type("aws:cognito/userPool:UserPool")
    environment = authorizer_environment(run)
    assert environment["OIDC_ISSUER"] == OWN["issuer"]
    assert json.loads(environment["OIDC_AUDIENCES"]) == ["viewer-spa", "scripts"]
    content = run.one("aws:s3/bucketObjectv2:BucketObjectv2", "viewer-file-app-config.js").inputs["content"]
    assert '"client_id": "viewer-spa"' in content
    assert f'"authority": "{OWN["issuer"]}"' in content
    assert run.outputs["viewerUserPoolId"] is None


def test_the_personas_name_the_user_pools_groups() -> None:
    run = run_program(viewer=True, dicomwebOidc={"personas": {"reader": ["radiology"], "admin": ["imaging-admins"]}})
    groups = sorted(g.inputs["name"] for g in run.by_type("aws:cognito/userGroup:UserGroup"))
    assert groups == ["imaging-admins", "radiology"]
    assert json.loads(authorizer_environment(run)["PERSONA_GROUPS"]) == {
        "admin": ["imaging-admins"],
        "reader": ["radiology"],
    }


def test_the_viewer_with_an_authorizer_arn_is_refused_saying_what_to_do() -> None:
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:my-authorizer"
    assert problems_of(datastoreLambdaAuthorizerArn=arn) == [
        "viewer = true with datastoreLambdaAuthorizerArn: the viewer's users get their access from the groups the "
        "stack's own authorizer maps to personas, and a function the stack did not build cannot be told the viewer's "
        "user pool, client and groups. Remove datastoreLambdaAuthorizerArn (the stack then builds the authorizer from "
        "dicomwebOidc, or from the viewer's user pool), or keep it and turn viewer off."
    ]


def test_a_custom_domain_without_a_certificate_names_both_keys() -> None:
    assert problems_of(viewerCustomDomain="viewer.example.org") == [
        "viewerCustomDomain = 'viewer.example.org' needs viewerCertificateArn: the ARN of an ACM certificate in "
        "us-east-1 that covers viewer.example.org (CloudFront serves no custom domain without one)."
    ]


def test_a_certificate_outside_us_east_1_names_the_key() -> None:
    arn = f"arn:aws:acm:eu-west-2:{ACCOUNT}:certificate/0e2b5a3c-1d4f-4b6a-9c8d-7e6f5a4b3c2d"
    assert problems_of(viewerCustomDomain="viewer.example.org", viewerCertificateArn=arn) == [
        f"viewerCertificateArn = {arn!r} is a certificate of eu-west-2: CloudFront uses certificates of us-east-1 "
        "only. Request or import it in ACM in us-east-1."
    ]


def test_an_issuer_without_https_names_the_key() -> None:
    problems = problems_of(dicomwebOidc={**OWN, "issuer": "http://login.example.org"})
    assert "dicomwebOidc.issuer = 'http://login.example.org': the issuer must be an https URL" in " ".join(problems)
    assert all(p.startswith("dicomwebOidc.issuer") for p in problems)


def test_audiences_without_an_issuer_are_refused() -> None:
    assert problems_of(dicomwebOidc={"audiences": ["x"]})[0].startswith(
        "dicomwebOidc.audiences is set without dicomwebOidc.issuer while viewer = true"
    )


def test_refusals_stop_the_program_before_any_resource() -> None:
    recorded: list[mockrun.PlannedResource] = []
    config = dev_config(
        viewer=True,
        viewerCustomDomain="viewer.example.org",
        datastoreLambdaAuthorizerArn=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:mine",
    )
    with pytest.raises(InvalidInputError) as raised:
        mockrun.run(
            PROJECT_DIR / "__main__.py", config=config, project="healthimaging-setup", stack="dev", recorded=recorded
        )
    assert "viewerCustomDomain = 'viewer.example.org' needs viewerCertificateArn" in str(raised.value)
    assert "viewer = true with datastoreLambdaAuthorizerArn" in str(raised.value)
    assert recorded == []


def test_the_offline_plan_shows_the_viewer_as_a_user_runs_it() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ahictl", "plan", "--stack", "dev", "--format", "json", "--set", "viewer=true"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    types = {r["type"] for r in plan["resources"]}
    assert {
        "healthimaging:index:ImagingViewer",
        "aws:cloudfront/distribution:Distribution",
        "aws:cognito/userPool:UserPool",
        "healthimaging:index:DicomwebAuthorizer",
    } <= types
    assert plan["outputs"]["viewerUrl"].startswith("https://")


def test_an_unknown_persona_is_reported_once() -> None:
    problems = problems_of(dicomwebOidc={"personas": {"viewer": ["radiology"]}})
    assert [p for p in problems if "names the persona 'viewer'" in p] == [
        "dicomwebOidc.personas names the persona 'viewer', which does not exist; the personas are 'admin', "
        "'importer', 'reader'."
    ]
