"""boto3 sessions and clients for the fakes and the tests: models parsed once per run, and each stand-in's own clients
to moto (dummy credentials, timeouts). Imports no other fake, so every fake can use it."""

from __future__ import annotations

import functools
import threading
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config

from . import DUMMY_ACCESS_KEY_ID, DUMMY_SECRET_ACCESS_KEY, TEST_REGION

#: One loader for the sessions the fakes and tests create: each service model is parsed once per run.
_SHARED_LOADER = botocore.loaders.create_loader()


def new_session(**kwargs: Any) -> boto3.session.Session:
    """A fresh boto3 session (credentials and configuration from the environment now) that reuses parsed models."""
    core = botocore.session.get_session()
    core.register_component("data_loader", _SHARED_LOADER)
    return boto3.session.Session(botocore_session=core, **kwargs)


_clients_lock = threading.Lock()


def stand_in_client(service: str, endpoint_url: str, region: str = TEST_REGION) -> Any:
    """A stand-in's own client to moto, with dummy credentials and timeouts (one per service and endpoint for the
    whole run: boto3 clients are thread-safe)."""
    with _clients_lock:
        return _stand_in_client(service, endpoint_url, region)


@functools.cache
def _stand_in_client(service: str, endpoint_url: str, region: str) -> Any:
    session = new_session(
        aws_access_key_id=DUMMY_ACCESS_KEY_ID, aws_secret_access_key=DUMMY_SECRET_ACCESS_KEY, region_name=region
    )
    config = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=30)
    return session.client(service, endpoint_url=endpoint_url, config=config)
