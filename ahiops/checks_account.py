"""Verify checks of who is calling and where: credentials, account, region, and the guide's HealthImaging check."""

from __future__ import annotations

from .errors import AwsAccessError, ServiceError
from .limits import HEALTHIMAGING_REGIONS  # an unlisted region passes only when HealthImaging answers there
from .verify_context import FailedCheckError, Outcome, VerifyContext, failed, passed


def check_credentials(ctx: VerifyContext) -> Outcome:
    """The caller's credentials work (STS GetCallerIdentity). When they do not, later checks are not run."""
    try:
        identity = ctx.caller_identity()
    except AwsAccessError as error:
        ctx.blocked = "not run: the AWS credentials do not work (see the 'credentials' check)"
        raise FailedCheckError(str(error)) from None
    return passed(f"signed in as {identity['Arn']} ({ctx.credentials_description()})")


def check_account(ctx: VerifyContext) -> Outcome:
    """The caller's account is the stack's ``accountId``."""
    account = ctx.caller_identity()["Account"]
    expected = ctx.outputs.account_id
    if account != expected:
        return failed(
            f"the credentials are for account {account}, but the stack ({ctx.outputs.source}) is in account "
            f"{expected}; sign in to {expected} (for example `aws sso login --profile <profile for {expected}>` "
            "and --profile)"
        )
    return passed(f"account {account} is the stack's account")


def check_region(ctx: VerifyContext) -> Outcome:
    """The session's region is the stack's, and HealthImaging runs there."""
    if ctx.region != ctx.outputs.region:
        return failed(
            f"the commands use region {ctx.region}, but the stack is in {ctx.outputs.region}; "
            f"drop --region or pass --region {ctx.outputs.region}"
        )
    if ctx.region in HEALTHIMAGING_REGIONS:
        return passed(f"{ctx.region} is the stack's region and runs HealthImaging")
    try:
        list_datastores(ctx)
    except ServiceError as error:
        return failed(
            f"{ctx.region} is not a region where HealthImaging runs ({', '.join(HEALTHIMAGING_REGIONS)}) and "
            f"HealthImaging did not answer there: {error}"
        )
    return passed(f"{ctx.region} is not in this tool's list of HealthImaging regions, but HealthImaging answers there")


def list_datastores(ctx: VerifyContext) -> dict[str, object]:
    """HealthImaging ListDatastores with the caller's credentials, once."""

    def compute() -> dict[str, object]:
        response = ctx.call("medical-imaging", "list_datastores", about=f"in {ctx.region}", maxResults=1)
        assert response is not None
        return response

    result: dict[str, object] = ctx.once("list_datastores", compute)
    return result


def check_healthimaging_api(ctx: VerifyContext) -> Outcome:
    """The setup guide's own check (`aws medical-imaging help`): HealthImaging answers the caller."""
    list_datastores(ctx)
    identity = ctx.caller_identity()
    return passed(
        f"HealthImaging answered ListDatastores for {identity['Arn']} ({ctx.credentials_description()}, "
        f"endpoint {ctx.client('medical-imaging').meta.endpoint_url})"
    )
