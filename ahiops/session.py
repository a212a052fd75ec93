"""AWS sessions and clients from boto3's standard configuration chain, and AWS errors made readable.

Credentials, SSO sessions and endpoints come from boto3's chain (``AWS_PROFILE``, ``AWS_REGION``, the
config and credentials files, and the per-service ``AWS_ENDPOINT_URL_<SERVICE>`` variables, which botocore
reads itself). ``--profile`` and ``--region`` override; the region defaults to the stack's region.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import botocore.exceptions
from botocore.config import Config

from .errors import AwsAccessError, OpsError, ServiceError, UsageError

#: Error codes that mean the credentials are expired or not valid (any service).
CREDENTIAL_ERROR_CODES = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "RequestExpired",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
        "AuthFailure",
    }
)
#: Error codes that mean the caller may not do this.
ACCESS_DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "Forbidden", "403", "AllAccessDisabled"}
)

#: Error codes that mean AWS is throttling the caller (left after botocore's own retries).
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "SlowDown",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottled",
        "RequestThrottledException",
    }
)


def _profile_hint(profile: str | None) -> str:
    name = profile or os.environ.get("AWS_PROFILE") or "<your-profile>"
    return f"sign in with `aws sso login --profile {name}` (or set AWS_PROFILE / pass --profile)"


def make_session(*, profile: str | None, region: str | None, default_region: str) -> boto3.session.Session:
    """A boto3 session from the standard chain; ``profile``/``region`` override, the region defaults to the stack's."""
    try:
        return boto3.session.Session(profile_name=profile, region_name=region or default_region)
    except botocore.exceptions.ProfileNotFound as error:
        raise UsageError(
            f"--profile {profile or os.environ.get('AWS_PROFILE')}: {error}. List the profiles with "
            "`aws configure list-profiles`, or create one with `aws configure sso`."
        ) from None


def make_client(
    session: boto3.session.Session,
    service: str,
    *,
    max_pool_connections: int = 10,
    retry_mode: str = "standard",
    max_attempts: int = 5,
    connect_timeout: float = 10,
    read_timeout: float = 60,
) -> Any:
    """A client with botocore's retries and a connection pool of the given size.

    The endpoint comes from ``AWS_ENDPOINT_URL_<SERVICE>`` (or the config file) through botocore itself.
    """
    config = Config(
        retries={"mode": retry_mode, "max_attempts": max_attempts},
        max_pool_connections=max_pool_connections,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        user_agent_extra="ahictl",
    )
    with translate_client_errors(f"create the {service} client"):
        return session.client(service, config=config)


def error_code(error: botocore.exceptions.ClientError) -> str:
    """AWS's error code of a ClientError ('' when there is none)."""
    return str(error.response.get("Error", {}).get("Code", ""))


def error_message(error: botocore.exceptions.ClientError) -> str:
    """AWS's error message of a ClientError (falls back to the HTTP status)."""
    message = str(error.response.get("Error", {}).get("Message", "") or "")
    if not message:
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        message = f"HTTP {status}" if status else str(error)
    return message


def client_error_to_ops_error(
    operation: str, error: botocore.exceptions.ClientError, *, profile: str | None = None
) -> OpsError:
    """The :class:`OpsError` that says what a ClientError means and what to do."""
    code = error_code(error)
    message = error_message(error)
    result: OpsError
    if code in CREDENTIAL_ERROR_CODES:
        result = AwsAccessError(
            f"{operation}: the AWS credentials are expired or not valid ({code}: {message}); {_profile_hint(profile)}."
        )
    elif code in ACCESS_DENIED_CODES:
        result = AwsAccessError(
            f"{operation}: access denied ({code}: {message}). Use an identity allowed to do this "
            "(check AWS_PROFILE / --profile and the account), or ask an administrator for the permission."
        )
    elif code in THROTTLING_CODES:
        result = ServiceError(
            f"{operation} failed: {code}: {message}. AWS kept throttling the requests after retrying them: wait a "
            "few minutes, then run the same command again."
        )
    else:
        result = ServiceError(f"{operation} failed: {code or 'error'}: {message}")
    result.aws_error_code = code or None
    return result


@contextmanager
def translate_client_errors(operation: str, *, profile: str | None = None) -> Iterator[None]:
    """Turn botocore's exceptions inside the block into :class:`OpsError` subclasses with advice.

    ``operation`` says what was being done, for example ``"GetDatastore"`` or ``"upload s3://bucket/key"``.
    """
    try:
        yield
    except botocore.exceptions.ClientError as error:
        raise client_error_to_ops_error(operation, error, profile=profile) from None
    except botocore.exceptions.NoCredentialsError:
        raise AwsAccessError(f"{operation}: no AWS credentials were found; {_profile_hint(profile)}.") from None
    except (
        botocore.exceptions.SSOTokenLoadError,
        botocore.exceptions.UnauthorizedSSOTokenError,
        botocore.exceptions.TokenRetrievalError,
        botocore.exceptions.CredentialRetrievalError,
    ) as error:
        raise AwsAccessError(
            f"{operation}: the AWS sign-in is missing or expired ({error}); {_profile_hint(profile)}."
        ) from None
    except botocore.exceptions.ProfileNotFound as error:
        raise UsageError(
            f"{operation}: {error}. List the profiles with `aws configure list-profiles`, "
            "or create one with `aws configure sso`."
        ) from None
    except botocore.exceptions.NoRegionError:
        raise UsageError(f"{operation}: no AWS region is set; pass --region or set AWS_REGION.") from None
    except (
        botocore.exceptions.EndpointConnectionError,
        botocore.exceptions.ConnectTimeoutError,
        botocore.exceptions.ReadTimeoutError,
        botocore.exceptions.ConnectionClosedError,
    ) as error:
        raise ServiceError(
            f"{operation} failed: could not reach AWS ({error}). Check the network, the region and any "
            "AWS_ENDPOINT_URL_* variables, then run the command again."
        ) from None
    except botocore.exceptions.ParamValidationError as error:
        raise UsageError(f"{operation}: a value was rejected before sending: {error}") from None
    except botocore.exceptions.BotoCoreError as error:
        raise ServiceError(f"{operation} failed: {error}") from None
