"""The function's entry point (``datastore_creator.handler.handle``), invoked by ``aws.lambda_.Invocation`` with
``lifecycle_scope="CRUD"``:

- create: CreateDatastore with the members given and a client token derived from them and the resource's identity
  (:mod:`.request`), then GetDatastore until the data store leaves CREATING (bounded by the invocation's remaining
  time). ACTIVE returns ``{"datastoreId", "datastoreArn", "datastoreStatus"}``; CREATE_FAILED, an error or a data
  store still CREATING when time runs out raise, so the invocation, and ``pulumi up``, fail with the reason
  (HealthImaging's own message where it gives one). A retried create gets the data store of the first attempt.
- update: the component replaces the invocation when its input changes, so an update comes with the same members
  (another property changed, such as the function's name). It re-reads the data store created with those members
  and never creates one; other members are refused.
- delete: nothing is deleted. The data store, and the medical images in it, stay in the account; the log says so.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from ahiops.session import make_client

from .request import (
    ACTION_DELETE,
    ACTION_UPDATE,
    DATA_PATH_VARIABLE,
    CreationRequest,
    parse_event,
)

LOG = logging.getLogger("datastore_creator")
LOG.setLevel(logging.INFO)

#: Seconds between two GetDatastore calls while the data store is CREATING.
POLL_SECONDS_VARIABLE = "POLL_SECONDS"
DEFAULT_POLL_SECONDS = 10.0
#: Seconds of the invocation kept back after the last poll, to raise with a message before Lambda's timeout.
SAFETY_MARGIN_SECONDS = 15.0
#: How long to wait when invoked without a Lambda context (tests, a call by hand).
DEFAULT_WAIT_SECONDS = 600.0
#: Statuses a data store never leaves: one of them in CreateDatastore's answer is an earlier, failed attempt.
_ENDED_STATUSES = frozenset({"CREATE_FAILED", "DELETING", "DELETED"})
#: Why a retry needs a changed input: the client token is derived from the inputs, and HealthImaging may answer a
#: token it has seen with the data store it created for it.
RETRY_ADVICE = (
    "the client token is derived from the inputs, so the same inputs may be answered with the failed data store."
)
#: Statuses in which a data store with the requested name can be the one an update re-reads.
_LIVE_STATUSES = frozenset({"CREATING", "ACTIVE"})


class DatastoreCreationError(Exception):
    """CreateDatastore failed, the data store ended in CREATE_FAILED, or it was not ACTIVE in time."""


def medical_imaging_client() -> Any:
    """A medical-imaging client from boto3's standard chain, with the model that knows the creation-time options."""
    client = make_client(boto3.session.Session(), "medical-imaging", connect_timeout=5, read_timeout=30)
    members = client.meta.service_model.operation_model("CreateDatastore").input_shape.members
    if "losslessStorageFormat" not in members or "lambdaAuthorizerArn" not in members:
        raise DatastoreCreationError(
            "this botocore's medical-imaging model lacks losslessStorageFormat or lambdaAuthorizerArn, and "
            f"{DATA_PATH_VARIABLE}={os.environ.get(DATA_PATH_VARIABLE, '')!r} does not supply a newer one: the "
            "function's archive is incomplete; redeploy the stack"
        )
    return client


def _aws_message(error: ClientError | BotoCoreError) -> str:
    """The error as botocore words it: ``An error occurred (Code) when calling the X operation: <AWS's message>``."""
    return str(error)


def handle(event: Mapping[str, Any], context: Any = None, *, client: Any = None) -> dict[str, Any]:
    """Lambda's entry point; ``client`` replaces the medical-imaging client built from the environment (tests)."""
    request = parse_event(event)
    if request.action == ACTION_DELETE:
        LOG.info(
            "the data store %r stays in the account with its image sets: deleting the resource only stops managing it",
            request.members["datastoreName"],
        )
        return {"action": ACTION_DELETE, "retained": True, "datastoreName": request.members["datastoreName"]}
    client = client or medical_imaging_client()
    if request.action == ACTION_UPDATE:
        return reread(client, request)
    poll_seconds = float(os.environ.get(POLL_SECONDS_VARIABLE, DEFAULT_POLL_SECONDS))
    return create(client, request, remaining=_remaining_seconds(context), poll_seconds=poll_seconds)


def _remaining_seconds(context: Any) -> Callable[[], float]:
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        return lambda: float(context.get_remaining_time_in_millis()) / 1000.0
    deadline = time.monotonic() + DEFAULT_WAIT_SECONDS
    return lambda: deadline - time.monotonic()


def create(
    client: Any, request: CreationRequest, *, remaining: Callable[[], float], poll_seconds: float
) -> dict[str, Any]:
    """CreateDatastore (idempotent through the client token), then wait for ACTIVE."""
    name = request.members["datastoreName"]
    try:
        created = client.create_datastore(clientToken=request.client_token, **request.members)
    except (ClientError, BotoCoreError) as error:
        LOG.error("CreateDatastore for %r failed: %s", name, _aws_message(error))
        raise DatastoreCreationError(
            f"HealthImaging refused to create the data store {name!r}: {_aws_message(error)}"
        ) from None
    datastore_id = created["datastoreId"]
    LOG.info("CreateDatastore for %r answered data store %s (%s)", name, datastore_id, created.get("datastoreStatus"))
    if created.get("datastoreStatus") in _ENDED_STATUSES:
        raise DatastoreCreationError(
            f"HealthImaging answered this request with the data store {datastore_id} ({name!r}) of an earlier attempt, "
            f"which is {created['datastoreStatus']}: the same inputs give the same client token. Fix the cause of the "
            "first failure, delete that data store if it is still there (aws medical-imaging delete-datastore), and "
            f"change an input before pulumi up, for example add a tag; {RETRY_ADVICE}"
        )
    while True:
        try:
            properties = client.get_datastore(datastoreId=datastore_id)["datastoreProperties"]
        except (ClientError, BotoCoreError) as error:
            raise DatastoreCreationError(
                f"the data store {datastore_id} ({name!r}) was created but cannot be read: {_aws_message(error)}"
            ) from None
        status = properties["datastoreStatus"]
        if status == "ACTIVE":
            LOG.info("data store %s (%r) is ACTIVE", datastore_id, name)
            return _result(properties)
        if status != "CREATING":
            LOG.error("data store %s (%r) ended in %s", datastore_id, name, status)
            raise DatastoreCreationError(
                f"HealthImaging's data store {datastore_id} ({name!r}) ended in {status}, not ACTIVE. GetDatastore "
                "gives no reason: look for the 'Data Store Creation Failed' event (EventBridge source "
                "aws.medical-imaging) and the CreateDatastore call in CloudTrail (a KMS key the data store creator "
                "may not use, an authorizer function HealthImaging may not invoke). The failed data store holds "
                "nothing: delete it (aws medical-imaging delete-datastore), fix the cause, change an input (for "
                f"example add a tag) and run pulumi up again; {RETRY_ADVICE}"
            )
        if remaining() - poll_seconds < SAFETY_MARGIN_SECONDS:
            raise DatastoreCreationError(
                f"the data store {datastore_id} ({name!r}) is still CREATING; run pulumi up again: the same request "
                "returns this data store, never a second one."
            )
        time.sleep(poll_seconds)


def reread(client: Any, request: CreationRequest) -> dict[str, Any]:
    """The data store created with these members, read again; never a creation."""
    name = request.members["datastoreName"]
    if request.previous is not None and request.previous != request.members:
        changed = sorted(
            key
            for key in set(request.members) | set(request.previous)
            if request.members.get(key) != request.previous.get(key)
        )
        raise DatastoreCreationError(
            f"the data store {name!r} cannot be changed in place ({', '.join(changed)} differ): its creation-time "
            "options are fixed. The component replaces the data store only when replacement is allowed; nothing "
            "was changed."
        )
    matches = [properties for properties in _datastores_named(client, name) if _same_options(properties, request)]
    if len(matches) != 1:
        found = ", ".join(p["datastoreId"] for p in matches) or "none"
        raise DatastoreCreationError(
            f"expected one live data store named {name!r} with the requested options, found {len(matches)} ({found}); "
            "nothing was created. Run pulumi refresh, and check the data stores with aws medical-imaging "
            "list-datastores."
        )
    return _result(matches[0])


def _datastores_named(client: Any, name: str) -> list[dict[str, Any]]:
    found = []
    for page in client.get_paginator("list_datastores").paginate():
        for summary in page.get("datastoreSummaries", []):
            if summary.get("datastoreName") == name and summary.get("datastoreStatus") in _LIVE_STATUSES:
                found.append(client.get_datastore(datastoreId=summary["datastoreId"])["datastoreProperties"])
    return found


def _same_options(properties: Mapping[str, Any], request: CreationRequest) -> bool:
    wanted = request.members
    return (
        properties.get("kmsKeyArn") == wanted.get("kmsKeyArn")
        and properties.get("losslessStorageFormat", "HTJ2K") == wanted.get("losslessStorageFormat", "HTJ2K")
        and properties.get("lambdaAuthorizerArn") == wanted.get("lambdaAuthorizerArn")
    )


def _result(properties: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "datastoreId": properties["datastoreId"],
        "datastoreArn": properties["datastoreArn"],
        "datastoreStatus": properties["datastoreStatus"],
    }
