"""Test doubles built on the sandbox (``sandbox/``): fixtures' environments, a deployed dev stack, S3 sinks, ...

Everything here listens on 127.0.0.1 only, on a free port, and is stopped by the fixture that started it.
The code under test reaches these servers only through the standard ``AWS_ENDPOINT_URL_<SERVICE>`` variables.
"""

from sandbox import DUMMY_ACCESS_KEY_ID, DUMMY_SECRET_ACCESS_KEY, MOTO_ACCOUNT_ID, TEST_REGION

__all__ = ["DUMMY_ACCESS_KEY_ID", "DUMMY_SECRET_ACCESS_KEY", "MOTO_ACCOUNT_ID", "TEST_REGION"]
