"""The program runs under mocks with Pulumi.dev.yaml and exports what the README promises."""

from ahictl import mockrun


def test_dev_stack_exports_every_documented_output(dev_run: mockrun.ProgramRun) -> None:
    assert set(dev_run.outputs) == {
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
        "startImportJobCommand",
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
    }
