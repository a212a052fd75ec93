"""What an invocation asks for: the lifecycle action, the CreateDatastore members, and the client token derived from
them. Standard library only: the component reads the literal names below from this file (without importing it) to
build the invocation's input, so the two cannot drift apart.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: The key under which ``aws.lambda_.Invocation(lifecycle_scope="CRUD")`` adds its lifecycle object to the input
#: (its ``terraform_key``; the object holds ``action`` and ``prev_input``).
LIFECYCLE_KEY = "tf"
ACTION_CREATE = "create"
ACTION_UPDATE = "update"
ACTION_DELETE = "delete"
#: The input member that names the resource the data store belongs to (``<project>/<stack>/<component>``): it goes
#: into the client token, so that two stacks asking for equal data stores never share one.
IDENTITY_MEMBER = "resourceIdentity"
#: CreateDatastore's members the input may carry (the client token is derived, never given).
CREATE_MEMBERS = ("datastoreName", "kmsKeyArn", "tags", "losslessStorageFormat", "lambdaAuthorizerArn")
#: Where the archive keeps botocore's ``medical-imaging`` model (``AWS_DATA_PATH`` points there): the Lambda
#: runtime's own botocore may predate ``losslessStorageFormat`` and ``lambdaAuthorizerArn``.
MODEL_DIRECTORY = "botocore_data"
#: The environment variable botocore reads extra model directories from.
DATA_PATH_VARIABLE = "AWS_DATA_PATH"


class InvalidRequestError(Exception):
    """The invocation's input is not what the component sends (a deployment mistake)."""


@dataclass(frozen=True)
class CreationRequest:
    """One invocation: the lifecycle action, who asks, and CreateDatastore's members (only those set)."""

    action: str
    identity: str
    members: dict[str, Any]
    #: The members of the previous invocation (``prev_input``), for an update or a delete; None on a create.
    previous: dict[str, Any] | None

    @property
    def client_token(self) -> str:
        """64 hex characters (CreateDatastore's ``clientToken``: 1 to 64 of ``[A-Za-z0-9._-]``), the same for the
        same identity and members: a retried invocation gets the data store created the first time."""
        return client_token(self.identity, self.members)


def client_token(identity: str, members: Mapping[str, Any]) -> str:
    canonical = json.dumps({IDENTITY_MEMBER: identity, **members}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _members(document: Mapping[str, Any], where: str) -> tuple[str, dict[str, Any]]:
    identity = document.get(IDENTITY_MEMBER)
    if not isinstance(identity, str) or not identity:
        raise InvalidRequestError(
            f"{where} lacks {IDENTITY_MEMBER!r}: the function is invoked by the data store component only"
        )
    unknown = sorted(set(document) - set(CREATE_MEMBERS) - {IDENTITY_MEMBER, LIFECYCLE_KEY})
    if unknown:
        raise InvalidRequestError(f"{where} has members CreateDatastore does not take: {', '.join(unknown)}")
    if not isinstance(document.get("datastoreName"), str):
        raise InvalidRequestError(f"{where} lacks 'datastoreName'")
    return identity, {key: document[key] for key in CREATE_MEMBERS if document.get(key) not in (None, "", {})}


def parse_event(event: Mapping[str, Any]) -> CreationRequest:
    """The request an invocation carries. Without the lifecycle object (an invocation by hand) it is a create."""
    lifecycle = event.get(LIFECYCLE_KEY) or {}
    if not isinstance(lifecycle, Mapping):
        raise InvalidRequestError(f"{LIFECYCLE_KEY!r} is not an object: {lifecycle!r}")
    action = lifecycle.get("action", ACTION_CREATE)
    if action not in (ACTION_CREATE, ACTION_UPDATE, ACTION_DELETE):
        raise InvalidRequestError(f"unknown lifecycle action {action!r}")
    identity, members = _members(event, "the input")
    previous = lifecycle.get("prev_input")
    previous_members = None
    if isinstance(previous, Mapping) and previous:
        _, previous_members = _members(previous, "the previous input")
    return CreationRequest(action=action, identity=identity, members=members, previous=previous_members)
