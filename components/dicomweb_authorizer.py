"""PLACEHOLDER, to be replaced by the real DicomwebAuthorizer component when the branches merge.

It has exactly the interface the design fixes (arguments, type token, outputs) so that ImagingDatastore's wiring and
its tests run; it creates NO resource: no function, no persona role, no resource policy. Never deploy it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NotRequired, Optional, TypedDict

import pulumi

from ._resource_options import PACKAGE


class DicomwebAuthorizerArgs(TypedDict):
    """Arguments of :class:`DicomwebAuthorizer` (the design's interface)."""

    account_id: str
    region: str
    name_prefix: str
    issuer: str
    audiences: Sequence[str]
    jwks_uri: NotRequired[str]
    groups_claim: NotRequired[str]
    personas: Mapping[str, Sequence[str]]
    datastore_arn: pulumi.Input[str]
    provisioned_concurrency: NotRequired[int]
    path: NotRequired[str]
    permissions_boundary_arn: NotRequired[str]
    tags: NotRequired[Mapping[str, str]]


class DicomwebAuthorizer(pulumi.ComponentResource):
    """PLACEHOLDER (see the module docstring): outputs only, computed from the names."""

    function_arn: pulumi.Output[str]
    function_name: pulumi.Output[str]
    persona_role_arns: pulumi.Output[Mapping[str, str]]

    def __init__(self, name: str, args: DicomwebAuthorizerArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(f"{PACKAGE}:index:DicomwebAuthorizer", name, None, opts)
        function_name = f"{args['name_prefix']}-dicomweb-authorizer"
        qualifier = ":live" if args.get("provisioned_concurrency", 1) else ""
        self.function_name = pulumi.Output.from_input(function_name)
        self.function_arn = pulumi.Output.from_input(
            f"arn:aws:lambda:{args['region']}:{args['account_id']}:function:{function_name}{qualifier}"
        )
        path = args.get("path", "/")
        roles = {
            persona: f"arn:aws:iam::{args['account_id']}:role{path}{args['name_prefix']}-dicomweb-{persona}"
            for persona in args["personas"]
        }
        # Known only once the data store's ARN is: like the real roles, which depend on it.
        self.persona_role_arns = pulumi.Output.from_input(args["datastore_arn"]).apply(lambda _: roles)
        self.register_outputs(
            {
                "function_arn": self.function_arn,
                "function_name": self.function_name,
                "persona_role_arns": self.persona_role_arns,
            }
        )
