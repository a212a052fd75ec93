"""The dev stack deployed into the sandbox from its plan, as ``ahictl sandbox up`` deploys it
(:mod:`sandbox.deploy`), plus its outputs file: what the end-to-end tests run against.

The program runs under the sandbox's mocks once per session (per worker); each later deployment replays the
recorded creations into the freshly reset sandbox with that deployment's own IDs
(:func:`sandbox.deploy.replay_deployment`), which is what keeps a deployment per test cheap. Every bucket carries
the program's TLS-only policy: the sandbox judges bucket policies with their conditions and its loopback stands
in for TLS (:mod:`sandbox.moto_patches`), so objects can still be read and written.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.deploy import Deployment, replay_deployment
from sandbox.deploy import deploy_stack as deploy_plan
from sandbox.healthimaging import HealthImagingEmulator
from testkit.mock_runs import PROJECT_DIR

from .environment import AwsEnv

#: The keys ``__main__.py`` exports, in its order (a test checks this list against ``__main__.py``).
EXPORTED_KEYS = (
    "accountId",
    "region",
    "inputBucketName",
    "inputBucketArn",
    "outputBucketName",
    "outputBucketArn",
    "logBucketName",
    "bucketKmsKeyArn",
    "datastoreId",
    "datastoreArn",
    "datastoreKmsKeyArn",
    "datastoreLosslessStorageFormat",
    "datastoreLambdaAuthorizerArn",
    "dicomwebUrl",
    "dicomwebPersonaRoleArns",
    "importRoleArn",
    "accessPolicyArns",
    "accessGroupNames",
    "accessRoleArns",
    "accessPermissionSetArns",
    "accessAdminUserName",
    "importAlertsTopicArn",
    "importAlertsFunctionName",
    "auditTrailArn",
    "auditBucketName",
    "autoImportQueueUrl",
    "autoImportFunctionName",
    "startImportJobCommand",
)


@dataclass(frozen=True)
class DeployedStack:
    """The deployed dev stack: the outputs file, what is behind each output, and the deployment itself."""

    outputs_path: Path
    outputs: dict[str, Any]
    s3: Any  # a boto3 S3 client configured by the environment (moto)
    healthimaging: HealthImagingEmulator
    env: AwsEnv
    deployment: Deployment

    @property
    def account_id(self) -> str:
        return str(self.outputs["accountId"])

    @property
    def region(self) -> str:
        return str(self.outputs["region"])

    @property
    def input_bucket(self) -> str:
        return str(self.outputs["inputBucketName"])

    @property
    def output_bucket(self) -> str:
        return str(self.outputs["outputBucketName"])

    @property
    def log_bucket(self) -> str:
        return str(self.outputs["logBucketName"])

    @property
    def bucket_key_arn(self) -> str:
        return str(self.outputs["bucketKmsKeyArn"])

    @property
    def datastore_id(self) -> str:
        return str(self.outputs["datastoreId"])

    @property
    def datastore_arn(self) -> str:
        return str(self.outputs["datastoreArn"])

    @property
    def datastore_key_arn(self) -> str:
        return str(self.outputs["datastoreKmsKeyArn"])

    @property
    def import_role_arn(self) -> str:
        return str(self.outputs["importRoleArn"])

    @property
    def import_role_name(self) -> str:
        return self.import_role_arn.rsplit("/", 1)[1]


_recorded: dict[str, Deployment] = {}
_recorded_lock = threading.Lock()


def deploy_stack(
    env: AwsEnv,
    healthimaging: HealthImagingEmulator,
    outputs_path: Path,
    *,
    overrides: Mapping[str, str] | None = None,
    authorizer_jwks_uri: str | None = None,
) -> DeployedStack:
    """Deploy the dev stack's plan into the sandbox ``env`` points at (see the module docstring), with the data
    access role and DICOMweb's persona roles checked by ``healthimaging`` as ``sandbox up`` does, and write
    ``outputs_path``. ``overrides`` and ``authorizer_jwks_uri``: as :func:`sandbox.deploy.deploy_stack`'s (the
    program runs once per session for each set of overrides)."""
    key = json.dumps(dict(overrides or {}), sort_keys=True)
    with _recorded_lock:
        recorded = _recorded.get(key)
        if recorded is None:
            deployment = deploy_plan(
                PROJECT_DIR,
                "dev",
                env.endpoints,
                healthimaging,
                account_id=env.account_id,
                region=env.region,
                overrides=overrides,
                authorizer_jwks_uri=authorizer_jwks_uri,
            )
            _recorded[key] = deployment
        else:
            deployment = replay_deployment(
                recorded,
                env.endpoints,
                healthimaging,
                account_id=env.account_id,
                region=env.region,
                authorizer_jwks_uri=authorizer_jwks_uri,
            )
    healthimaging.check_data_access_role = True
    healthimaging.check_dicomweb_roles = True
    outputs_path.write_text(deployment.outputs_json())
    return DeployedStack(
        outputs_path=outputs_path,
        outputs=deployment.outputs,
        s3=env.client("s3", max_attempts=3),
        healthimaging=healthimaging,
        env=env,
        deployment=deployment,
    )
