"""Reusable Pulumi components for an AWS HealthImaging setup.

- :class:`ImagingBucketPair`: the input bucket (DICOM P10 files) and the output bucket (import results).
- :class:`ImagingDatastore`: the HealthImaging data store and its customer managed key.
- :class:`ImportJobRole`: the role HealthImaging assumes to run import jobs.
- :class:`HealthImagingAccess`: policies per persona (admin, importer, reader, break-glass) and the groups,
  roles, Identity Center permission sets and administrator user that give them to people.
- :class:`ImportJobAlerts`: alerts (SNS) when an import job fails or completes with files not imported.
- :class:`AuditTrail`: a CloudTrail trail of who read or changed the images (data events) and management events.
- :class:`AutoImport`: batches written into the input bucket become import jobs (S3 events, EventBridge, SQS, Lambda).
- :class:`DicomwebAuthorizer`: a Lambda authorizer for DICOMweb bearer tokens of an OIDC issuer, and its persona roles.
- :class:`ImagingViewer`: the OHIF Viewer on CloudFront with OIDC sign-in (a Cognito user pool by default), reading
  DICOMweb straight from the data store with bearer tokens.

Policy documents are built by the pure functions of :mod:`components.policies`; inputs are checked
by the pure functions of :mod:`components.validation`.
"""

from .access import HealthImagingAccess, HealthImagingAccessArgs
from .audit_trail import AuditTrail, AuditTrailArgs
from .auto_import import AutoImport, AutoImportArgs
from .bucket_pair import ImagingBucketPair, ImagingBucketPairArgs
from .datastore import ImagingDatastore, ImagingDatastoreArgs
from .dicomweb_authorizer import DicomwebAuthorizer, DicomwebAuthorizerArgs
from .imaging_viewer import ImagingViewer, ImagingViewerArgs
from .import_alerts import ImportJobAlerts, ImportJobAlertsArgs
from .import_role import ImportJobRole, ImportJobRoleArgs
from .secure_bucket import SecureBucket, SecureBucketArgs
from .validation import InvalidInputError

__all__ = [
    "AuditTrail",
    "AuditTrailArgs",
    "AutoImport",
    "AutoImportArgs",
    "DicomwebAuthorizer",
    "DicomwebAuthorizerArgs",
    "HealthImagingAccess",
    "HealthImagingAccessArgs",
    "ImagingBucketPair",
    "ImagingBucketPairArgs",
    "ImagingDatastore",
    "ImagingDatastoreArgs",
    "ImagingViewer",
    "ImagingViewerArgs",
    "ImportJobAlerts",
    "ImportJobAlertsArgs",
    "ImportJobRole",
    "ImportJobRoleArgs",
    "InvalidInputError",
    "SecureBucket",
    "SecureBucketArgs",
]
