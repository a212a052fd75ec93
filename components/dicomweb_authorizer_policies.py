"""The documents of the DICOMweb OIDC authorizer (:class:`~components.dicomweb_authorizer.DicomwebAuthorizer`),
built by pure functions of plain strings, like :mod:`components.policies`:

- the persona roles HealthImaging assumes for a caller: each trusts HealthImaging only for this account's one data
  store (``aws:SourceAccount``, ``aws:SourceArn``; plain operators, never ``ForAllValues:``) and may run only its
  persona's DICOMweb actions (:data:`PERSONA_DICOMWEB_ACTIONS`) on that data store;
- the function's own role: it writes its logs and decrypts its environment, nothing else (it calls no AWS API: the
  issuer's key set is fetched over HTTPS);
- its key: administered through IAM, usable by CloudWatch Logs for the function's log group only.

The DICOMweb actions come from :mod:`components.access_policies` (one list for the people's personas and for these
roles); the Service Authorization Reference names no DICOMweb action beyond reads and STOW-RS, so ``admin`` holds the
same DICOMweb actions as ``importer`` today and gets any DICOMweb action added to :data:`DICOMWEB_OTHER_ACTIONS`.
"""

from __future__ import annotations

from collections.abc import Mapping

from .access_policies import DICOMWEB_READ_ACTIONS, DICOMWEB_STORE_ACTIONS
from .function_policies import service_endpoint, write_own_logs_statement
from .log_group_policies import log_group_key_statement
from .policies import HEALTHIMAGING_SERVICE_PRINCIPAL, PolicyDocument, account_administration_statement, document

# The personas' names and their order of privilege are the function's (it picks the most privileged match).
from healthimaging_functions.dicomweb_authorizer.config import (  # isort: skip
    PERSONA_ADMIN,
    PERSONA_IMPORTER,
    PERSONA_READER,
    PERSONAS_BY_PRIVILEGE,
)

#: DICOMweb actions that are neither reads nor STOW-RS (none in the Service Authorization Reference today).
DICOMWEB_OTHER_ACTIONS: tuple[str, ...] = ()
#: What each persona may do through DICOMweb on the data store: reader reads (QIDO-RS, WADO-RS), importer also stores
#: (STOW-RS), admin every DICOMweb action.
PERSONA_DICOMWEB_ACTIONS: Mapping[str, tuple[str, ...]] = {
    PERSONA_READER: DICOMWEB_READ_ACTIONS,
    PERSONA_IMPORTER: DICOMWEB_READ_ACTIONS + DICOMWEB_STORE_ACTIONS,
    PERSONA_ADMIN: DICOMWEB_READ_ACTIONS + DICOMWEB_STORE_ACTIONS + DICOMWEB_OTHER_ACTIONS,
}
assert set(PERSONA_DICOMWEB_ACTIONS) == set(PERSONAS_BY_PRIVILEGE)


def healthimaging_regional_principal(region: str) -> str:
    """The service principal HealthImaging invokes a Lambda authorizer as (the function's resource policy)."""
    return f"medical-imaging.{region}.amazonaws.com"


def role_arn(account_id: str, path: str, name: str) -> str:
    """The ARN IAM gives a role of this name and path (known before the role exists)."""
    return f"arn:aws:iam::{account_id}:role{path}{name}"


def persona_trust_policy(account_id: str, datastore_arn: str) -> PolicyDocument:
    """HealthImaging may assume the persona role only for this account's one data store."""
    return document(
        [
            {
                "Sid": "AllowHealthImagingDicomwebForThisDatastore",
                "Effect": "Allow",
                "Principal": {"Service": HEALTHIMAGING_SERVICE_PRINCIPAL},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnEquals": {"aws:SourceArn": datastore_arn},
                },
            }
        ]
    )


def persona_permission_policy(persona: str, datastore_arn: str) -> PolicyDocument:
    """The persona's DICOMweb actions on the data store, and nothing else."""
    return document(
        [
            {
                "Sid": "DicomwebOnThisDatastore",
                "Effect": "Allow",
                "Action": sorted(set(PERSONA_DICOMWEB_ACTIONS[persona])),
                "Resource": datastore_arn,
            }
        ]
    )


def authorizer_key_policy(account_id: str, region: str, log_group_arn: str) -> PolicyDocument:
    """The key of the function's environment and log group: administered through IAM; CloudWatch Logs may use it for
    the function's log group only."""
    return document([account_administration_statement(account_id), log_group_key_statement(region, log_group_arn)])


def authorizer_function_policy(region: str, key_arn: str, log_group_arn: str) -> PolicyDocument:
    """The function's role: decrypt its environment (through Lambda) and write its own logs."""
    return document(
        [
            {
                "Sid": "DecryptOwnEnvironmentThroughLambda",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": key_arn,
                "Condition": {"StringEquals": {"kms:ViaService": service_endpoint("lambda", region)}},
            },
            write_own_logs_statement(log_group_arn),
        ]
    )
