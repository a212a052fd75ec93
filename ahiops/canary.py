"""The verify canary: import one small synthetic DICOM Part 10 file end to end, then clean up.

It proves what read-only checks cannot: that HealthImaging can assume the import role, read the input bucket
(and its KMS key), write the output bucket, and create an image set. Steps:

1. Generate one synthetic instance with pydicom (no patient data: a fixed made-up name and id, fresh UIDs,
   explicit VR little endian, an 8x8 pixel array), so every run imports a new instance.
2. Upload it to ``verify/<content digest>/canary.dcm`` in the input bucket (with a SHA-256 checksum).
3. Start an import job (client token derived from the digest: a retried start never starts a second job),
   wait until COMPLETED or FAILED, and read the job's manifest and per-file results.
4. Report the image set id, and delete the image set when the caller may (say so when not).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import botocore.exceptions

from .errors import OpsError, UsageError
from .jobs import StartRequest, start_job, wait_for_job
from .manifest import read_job_output
from .pacing import Backoff, Clock
from .planning import client_token
from .session import error_code, error_message, translate_client_errors
from .verify_context import FailedCheckError, Outcome, VerifyContext, passed

#: Where the canary's files go in the input bucket, and its results in the output bucket.
CANARY_PREFIX = "verify/"
CANARY_FILE_NAME = "canary.dcm"
#: Secondary Capture Image Storage: an image class that needs no modality-specific attributes.
SECONDARY_CAPTURE_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.7"
CANARY_PATIENT_NAME = "AHICTL^CANARY"
CANARY_PATIENT_ID = "AHICTL-VERIFY-CANARY"


@dataclass
class CanaryOptions:
    """How long the canary waits, and how (tests shorten the waits)."""

    timeout_seconds: float = 1800.0
    backoff: Callable[[], Backoff] = field(default=lambda: Backoff(initial=5.0, factor=1.5, maximum=30.0))
    manifest_attempts: int = 10
    manifest_delay_seconds: float = 3.0
    clock: Clock | None = None
    on_message: Callable[[str], None] | None = None


def synthetic_dicom_file() -> bytes:
    """One DICOM Part 10 instance with no patient data: preamble + DICM, explicit VR little endian, 8x8 pixels."""
    try:
        from pydicom.dataset import Dataset, FileMetaDataset
        from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid
    except ImportError:
        raise UsageError(
            "--canary needs pydicom to write its synthetic DICOM file: `venv/bin/pip install -r requirements.txt`."
        ) from None
    now = datetime.now(UTC)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(SECONDARY_CAPTURE_SOP_CLASS)
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID = meta.MediaStorageSOPClassUID
    dataset.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    dataset.StudyInstanceUID = generate_uid()
    dataset.SeriesInstanceUID = generate_uid()
    dataset.PatientName = CANARY_PATIENT_NAME
    dataset.PatientID = CANARY_PATIENT_ID
    dataset.StudyID = "1"
    dataset.StudyDate = dataset.SeriesDate = now.strftime("%Y%m%d")
    dataset.StudyTime = dataset.SeriesTime = now.strftime("%H%M%S")
    dataset.StudyDescription = "ahictl verify canary (synthetic, no patient data)"
    dataset.Modality = "OT"
    dataset.ConversionType = "SYN"
    dataset.SeriesNumber = 1
    dataset.InstanceNumber = 1
    dataset.SamplesPerPixel = 1
    dataset.PhotometricInterpretation = "MONOCHROME2"
    dataset.Rows = dataset.Columns = 8
    dataset.BitsAllocated = dataset.BitsStored = 8
    dataset.HighBit = 7
    dataset.PixelRepresentation = 0
    dataset.PixelData = bytes((row * 8 + column) * 4 for row in range(8) for column in range(8))
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


@dataclass(frozen=True)
class CanaryResult:
    job_id: str
    image_set_id: str
    input_uri: str
    deletion: str


def run_canary(ctx: VerifyContext, options: CanaryOptions) -> CanaryResult:
    """Upload, import, wait, confirm from the manifest, delete the image set (see the module docstring)."""
    outputs = ctx.outputs
    say = options.on_message or (lambda _message: None)
    content = synthetic_dicom_file()
    digest = hashlib.sha256(content).hexdigest()
    key = f"{CANARY_PREFIX}{digest}/{CANARY_FILE_NAME}"
    input_uri = f"s3://{outputs.input_bucket_name}/{CANARY_PREFIX}{digest}/"
    output_uri = f"s3://{outputs.output_bucket_name}/{CANARY_PREFIX}{digest}/"
    say(f"canary: uploading s3://{outputs.input_bucket_name}/{key} ({len(content)} bytes)")
    ctx.call(
        "s3",
        "put_object",
        about=f"s3://{outputs.input_bucket_name}/{key}",
        Bucket=outputs.input_bucket_name,
        Key=key,
        Body=content,
        ChecksumAlgorithm="SHA256",
        ExpectedBucketOwner=outputs.account_id,
    )
    client = ctx.client("medical-imaging")
    request = StartRequest(
        datastore_id=outputs.datastore_id,
        client_token=client_token(digest, 1, outputs.datastore_id),
        job_name=f"ahictl-verify-canary-{digest[:16]}",
        data_access_role_arn=outputs.import_role_arn,
        input_s3_uri=input_uri,
        output_s3_uri=output_uri,
        input_owner_account_id=outputs.account_id,
    )
    job_id = start_job(client, request, clock=options.clock, on_message=say)
    say(f"canary: import job {job_id} started; waiting for it to end")
    status = wait_for_job(
        client,
        outputs.datastore_id,
        job_id,
        clock=options.clock,
        backoff=options.backoff(),
        on_status=lambda s: say(f"canary: import job {job_id} is {s.job_status}"),
        timeout_seconds=options.timeout_seconds,
    )
    if status.job_status != "COMPLETED":
        raise FailedCheckError(
            f"the canary import job {job_id} ended {status.job_status}: {status.message or 'no message'} "
            f"(input {input_uri}). The import role, the buckets or their key do not work for HealthImaging."
        )
    sleep = options.clock.sleep if options.clock else None
    output = read_job_output(
        ctx.client("s3"),
        status.output_s3_uri or output_uri,
        outputs.datastore_id,
        job_id,
        attempts=options.manifest_attempts,
        delay_seconds=options.manifest_delay_seconds,
        sleep=sleep,
        expected_bucket_owner=outputs.account_id,
    )
    # The job's prefix holds only the canary file; manifests name it as an s3:// URI, a key or a relative path.
    failures = [f for f in output.failed if f.input_file.endswith(CANARY_FILE_NAME)]
    if failures:
        raise FailedCheckError(
            f"the canary import job {job_id} COMPLETED but did not import the file: {failures[0].reason} "
            f"(results in {output.folder_uri})"
        )
    imported = [f for f in output.imported if f.input_file.endswith(CANARY_FILE_NAME) and f.image_set_id]
    image_set_id = imported[0].image_set_id if imported else None
    if image_set_id is None:
        raise FailedCheckError(
            f"the canary import job {job_id} COMPLETED, but its manifest ({output.folder_uri}) does not list "
            f"{key} as imported ({output.summary.imported_files} imported, "
            f"{output.summary.files_with_customer_error + output.summary.files_with_server_error} failed)"
        )
    return CanaryResult(
        job_id, image_set_id, f"s3://{outputs.input_bucket_name}/{key}", _delete_image_set(ctx, image_set_id)
    )


def _delete_image_set(ctx: VerifyContext, image_set_id: str) -> str:
    """Delete the canary's image set; say what happened (never raises for a refusal)."""
    client = ctx.client("medical-imaging")
    try:
        with translate_client_errors(f"DeleteImageSet {image_set_id}"):
            try:
                client.delete_image_set(datastoreId=ctx.outputs.datastore_id, imageSetId=image_set_id)
            except botocore.exceptions.ClientError as error:
                if error_code(error) in ("AccessDeniedException", "AccessDenied"):
                    return (
                        f"image set kept: this identity may not delete it ({error_message(error)}); delete it "
                        "with an identity allowed medical-imaging:DeleteImageSet"
                    )
                raise
    except OpsError as error:
        return f"image set kept: deleting it failed ({error})"
    return "image set deleted"


def check_canary(ctx: VerifyContext, options: CanaryOptions | None = None) -> Outcome:
    result = run_canary(ctx, options or CanaryOptions())
    return passed(
        f"imported {result.input_uri} with job {result.job_id} into image set {result.image_set_id}; "
        f"{result.deletion}; the uploaded file stays in the input bucket"
    )
