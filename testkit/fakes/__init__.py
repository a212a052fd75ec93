"""Loopback stand-ins for AWS used by the tests: moto's server, a HealthImaging control plane, IAM's simulator.

Everything here listens on 127.0.0.1 only, on a free port, and is stopped by the fixture that started it.
The code under test reaches these servers only through the standard ``AWS_ENDPOINT_URL_<SERVICE>`` variables.
"""

#: The account moto answers as (STS GetCallerIdentity, bucket owner, ARNs of what it creates).
MOTO_ACCOUNT_ID = "123456789012"
#: The region the fixtures use for the deployed stack.
TEST_REGION = "us-east-1"
#: moto's conventional dummy credential values.
DUMMY_ACCESS_KEY_ID = "testing"
DUMMY_SECRET_ACCESS_KEY = "testing"
