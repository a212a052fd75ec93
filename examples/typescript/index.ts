// A TypeScript program that uses the healthimaging package: the bucket pair, the data store and the import
// job role, wired together. `pulumi package add <repository>/provider@v0.2.0` generated the SDK it imports.
import * as pulumi from "@pulumi/pulumi";
import * as healthimaging from "@pulumi/healthimaging";

const config = new pulumi.Config();
const accountId = config.require("accountId");
const region = config.get("region") ?? "us-east-1";

const buckets = new healthimaging.ImagingBucketPair("buckets", {
    accountId,
    region,
    namePrefix: "ahi-ts",
    noncurrentVersionExpirationDays: 30,
    tags: { team: "imaging" },
});

const datastore = new healthimaging.ImagingDatastore("datastore", {
    accountId,
    region,
    datastoreName: "ahi-ts",
    keyAlias: "ahi-ts-datastore-key",
    tags: { team: "imaging" },
});

const importRole = new healthimaging.ImportJobRole("import-role", {
    accountId,
    region,
    roleName: "ahi-ts-ImportJobDataAccessRole",
    datastoreArn: datastore.datastoreArn,
    inputBucketArn: buckets.inputBucketArn,
    outputBucketArn: buckets.outputBucketArn,
    inputKmsKeyArn: buckets.kmsKeyArn,
    outputKmsKeyArn: buckets.kmsKeyArn,
});

export const inputBucketName = buckets.inputBucketName;
export const outputBucketName = buckets.outputBucketName;
export const datastoreId = datastore.datastoreId;
export const importRoleArn = importRole.roleArn;
