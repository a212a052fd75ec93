"""A local AWS on loopback: moto's server (S3, IAM, KMS, STS), a HealthImaging emulator shaped by botocore's model,
and IAM's policy simulator, for trying the stack without an AWS account and for the project's end-to-end tests.

Everything here listens on 127.0.0.1 only, on a free port, and is stopped by whoever started it. Clients reach
it only through the standard ``AWS_ENDPOINT_URL_<SERVICE>`` variables. Not for PHI: nothing is really encrypted.
"""

#: The account moto answers as (STS GetCallerIdentity, bucket owner, ARNs of what it creates).
MOTO_ACCOUNT_ID = "123456789012"
#: The region the sandbox runs in.
TEST_REGION = "us-east-1"
#: moto's conventional dummy credential values (not a secret: loopback only, accepted by nothing in AWS).
DUMMY_ACCESS_KEY_ID = "testing"
DUMMY_SECRET_ACCESS_KEY = "testing"
