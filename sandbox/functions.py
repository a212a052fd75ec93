"""The stack's Lambda functions the sandbox runs in-process, as the AWS service that invokes them would.

One function is run so: the DICOMweb authorizer (``healthimaging_functions/dicomweb_authorizer``), when the data
store was created with its ARN as ``lambdaAuthorizerArn``. Its real handler is imported here and called by the
HealthImaging emulator for every DICOMweb request with a bearer token (``HealthImagingEmulator.set_authorizer``),
with the event HealthImaging sends. Every other function is not run: :mod:`sandbox.deploy` lists it as skipped.

Each sandbox gets its own copy of the function's state: the configuration is read from the function's environment
variables as the plan set them (given to the function's ``AuthorizerConfig.from_environment`` as a mapping, never
through ``os.environ``), with its own cache of the issuer's keys; the handler module's per-process copy (built from
``os.environ`` in Lambda) is never used. ``jwks_uri`` replaces the issuer's key set location for tests (a key set
served on loopback, ``testkit.oidc.serving_jwks``): it is a parameter of the library, not a stack setting.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from healthimaging_functions.dicomweb_authorizer import handler as authorizer_handler
from healthimaging_functions.dicomweb_authorizer.config import JWKS_URI, AuthorizerConfig, ConfigurationError
from healthimaging_functions.dicomweb_authorizer.decision import Authorizer as AuthorizerDecisions
from healthimaging_functions.dicomweb_authorizer.jwks import JwksCache

from .healthimaging import HealthImagingEmulator
from .sigv4 import Authorizer

FUNCTION_TYPE = "aws:lambda/function:Function"
#: The handlers the sandbox runs in-process (as the plan names them) -> what the function is, for messages.
IN_PROCESS_HANDLERS = {"dicomweb_authorizer.handler.handle": "the DICOMweb authorizer"}
_FUNCTION_ARN = re.compile(r"arn:aws[a-z-]*:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):function:(?P<name>[^:]+)")


class FunctionSetupError(ValueError):
    """A function the sandbox runs in-process cannot be set up from its environment."""


@dataclass(frozen=True)
class InProcessFunction:
    """A function the deployment runs in-process: its type, logical name, the inputs it was declared with, and what
    it is."""

    type: str
    name: str
    inputs: dict[str, Any]
    description: str

    @property
    def function_name(self) -> str:
        return str(self.inputs.get("name") or self.name)

    @property
    def environment(self) -> dict[str, str]:
        variables = (self.inputs.get("environment") or {}).get("variables") or {}
        return {str(key): str(value) for key, value in variables.items()}


def in_process_description(resource_type: str, inputs: Mapping[str, Any]) -> str | None:
    """What a declared resource is when the sandbox runs it in-process (None: it does not)."""
    if resource_type != FUNCTION_TYPE:
        return None
    return IN_PROCESS_HANDLERS.get(str(inputs.get("handler")))


def dicomweb_authorizer(environment: Mapping[str, str], *, jwks_uri: str | None = None) -> Authorizer:
    """The authorizer function as HealthImaging invokes it: ``event -> answer`` through the function's own entry
    point (``handler.handle``), with a configuration of its own read from ``environment`` (and ``jwks_uri`` in place
    of its key set location, when given). FunctionSetupError when the environment does not configure it."""
    variables = dict(environment)
    if jwks_uri is not None:
        variables[JWKS_URI] = jwks_uri
    try:
        config = AuthorizerConfig.from_environment(variables)
    except ConfigurationError as error:
        raise FunctionSetupError(f"the DICOMweb authorizer's environment does not configure it: {error}") from error
    decisions = AuthorizerDecisions(config, JwksCache(config.jwks_uri, config.jwks_timeout_seconds))

    def invoke(event: dict[str, Any]) -> Mapping[str, Any]:
        return authorizer_handler.handle(event, None, authorizer=decisions)

    return invoke


def invoked_function_name(function_arn: str, account_id: str, region: str) -> str | None:
    """The function name of a Lambda ARN (with or without a qualifier) of this account and region; None otherwise."""
    found = _FUNCTION_ARN.match(function_arn)
    if found is None or (found["account"], found["region"]) != (account_id, region):
        return None
    return found["name"]


def connect_authorizers(
    functions: Sequence[InProcessFunction],
    healthimaging: HealthImagingEmulator,
    *,
    account_id: str,
    region: str,
    jwks_uri: str | None = None,
) -> tuple[list[InProcessFunction], list[InProcessFunction]]:
    """Give each data store whose ``lambdaAuthorizerArn`` names one of ``functions`` that function, run in-process;
    returns (the functions connected, those no data store invokes)."""
    by_name = {function.function_name: function for function in functions}
    connected: dict[str, InProcessFunction] = {}
    for datastore_id, datastore in healthimaging.datastores.items():
        if not datastore.lambda_authorizer_arn:
            continue
        name = invoked_function_name(datastore.lambda_authorizer_arn, account_id, region)
        function = by_name.get(name or "")
        if function is None:
            continue
        healthimaging.set_authorizer(dicomweb_authorizer(function.environment, jwks_uri=jwks_uri), datastore_id)
        connected[function.function_name] = function
    return (
        [f for f in functions if f.function_name in connected],
        [f for f in functions if f.function_name not in connected],
    )
