"""HealthImaging's DICOMweb OIDC authorizer: a Lambda authorizer that accepts bearer tokens from any OIDC issuer and
the persona roles it hands to HealthImaging.

The function (``healthimaging_functions/dicomweb_authorizer``) verifies a token against the issuer's JWKS and maps the
caller's groups to one persona (``reader``, ``importer``, ``admin``: the most privileged match); HealthImaging then
assumes that persona's role for the request. The component creates:

- the function with its own key, log group and least-privilege role (:mod:`components.python_function`), its settings
  in its environment (issuer, audiences, JWKS URI, groups claim, persona -> groups and persona -> role ARN: names and
  public values, no secret);
- a published version and the alias ``live``, whose ARN is the one to give CreateDatastore (always the alias: the ARN
  is fixed when the data store is created, and provisioned concurrency may be turned on or off later); with
  ``provisioned_concurrency`` (default 1) provisioned concurrency on the alias, so that a request never waits for a
  cold start (HealthImaging allows the authorizer one second);
- one role per persona that HealthImaging may assume only for this account's data store, with only that persona's
  DICOMweb actions on it (:mod:`components.dicomweb_authorizer_policies`);
- the function's resource policy: HealthImaging's regional service principal may invoke it, for this account and this
  data store only.

The data store needs the function's ARN when it is created, and the persona roles and the resource policy need the
data store's ARN. ``function_arn`` is known without the data store (built from the names), and so are the role ARNs
in the function's environment (account, path and role name); only the roles and the permission take ``datastore_arn``,
which may be an output resolved later (``pulumi.deferred_output()``). For the same reason the function is not bound
to one data store ID in its environment: the resource policy (``source_arn``) and every role's trust
(``aws:SourceArn``) bind it to this data store.
"""

import json
import re
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NotRequired, Optional, TypedDict

import pulumi
import pulumi_aws as aws

from . import validation
from ._arguments import shown_as, with_defaults
from ._documents import json_when_known
from ._resource_options import PACKAGE, remember_caller_options
from .dicomweb_authorizer_policies import (
    authorizer_function_policy,
    authorizer_key_policy,
    healthimaging_regional_principal,
    persona_permission_policy,
    persona_trust_policy,
    role_arn,
)
from .lambda_package import FUNCTIONS_DIR
from .python_function import (
    FunctionCode,
    FunctionNames,
    FunctionSetup,
    function_key,
    function_setup,
    function_setup_warnings,
    python_function,
)
from .validation import logs
from .validation._text import show

# The function's own names: its environment variables, defaults and personas.
from healthimaging_functions.dicomweb_authorizer import config as function_config  # isort: skip

FUNCTION_CODE = FunctionCode(
    package=FUNCTIONS_DIR / "dicomweb_authorizer",
    handler="dicomweb_authorizer.handler.handle",
    description="Verifies OIDC bearer tokens of HealthImaging DICOMweb requests and names the persona role",
    role_description="Assumed by the HealthImaging DICOMweb authorizer function only",
    # Memory buys CPU: a signature check and a cold start take less with more; 512 MB keeps a decision in milliseconds.
    memory_mb=512,
    # HealthImaging waits one second; a longer timeout only lets a slow key set fetch finish for the next request.
    timeout_seconds=3,
)
#: The alias HealthImaging invokes (and provisioned concurrency keeps warm, when it is on).
ALIAS_NAME = "live"
#: Name of the inline policy on the function's role, and on each persona role.
PERMISSION_POLICY_NAME = "DicomwebAuthorizerFunction"
PERSONA_POLICY_NAME = "DicomwebPersona"
#: Lambda's limit on a function's environment variables (names and values together).
MAX_ENVIRONMENT_BYTES = 4096
MAX_CONCURRENCY = 1000
_ISSUER_EXAMPLE = "https://cognito-idp.<region>.amazonaws.com/<pool ID>"
_AUDIENCE_EXAMPLE = "my-viewer-client-id"
_JWKS_EXAMPLE = "https://login.example.org/.well-known/jwks.json"
_DATASTORE_ARN = re.compile(r"arn:aws[a-z-]*:medical-imaging:([a-z0-9-]+):(\d{12}):datastore/[0-9a-z]{32}")

#: Default of every optional argument of :class:`DicomwebAuthorizer` (the one place each default lives). ``jwks_uri``:
#: None stands for ``<issuer>/.well-known/jwks.json``.
DICOMWEB_AUTHORIZER_DEFAULTS: dict[str, Any] = {
    "jwks_uri": None,
    "groups_claim": function_config.DEFAULT_GROUPS_CLAIM,
    "provisioned_concurrency": 1,
    "reserved_concurrency": 10,
    "log_retention_days": 365,
    "path": "/",
    "protect_data": True,
}


class DicomwebAuthorizerArgs(TypedDict):
    """Arguments of :class:`DicomwebAuthorizer`."""

    account_id: str
    """The 12-digit AWS account of the data store (ARNs and policy conditions)."""
    region: str
    """The region of the data store."""
    name_prefix: str
    """Prefix of every name the component gives (function, roles, key alias), for example ``ahi-dev``."""
    issuer: str
    """The OIDC issuer (an https URL; a token's ``iss`` must equal it), for example
    ``https://cognito-idp.<region>.amazonaws.com/<user pool ID>``."""
    audiences: Sequence[str]
    """The audiences accepted: a token must carry one of them in ``aud`` or ``client_id`` (at least one)."""
    personas: Mapping[str, Sequence[str]]
    """Which groups give which persona (``reader``, ``importer``, ``admin``), for example
    ``{"reader": ["radiology"], "admin": ["imaging-admins"]}``; one role is created per persona given. A caller in
    several gets the most privileged (admin, then importer, then reader)."""
    datastore_arn: pulumi.Input[str]
    """ARN of the data store that uses the authorizer (the persona roles' trust and the function's resource policy).
    It may be an output resolved after the data store is created (``pulumi.deferred_output()``)."""
    jwks_uri: NotRequired[str]
    """Default: ``<issuer>/.well-known/jwks.json``. Where the issuer publishes its signing keys (an https URL)."""
    groups_claim: NotRequired[str]
    """Default: ``cognito:groups``. The claim that lists the caller's groups (a list, or names separated by spaces or
    commas), for example ``groups`` for Entra ID or Okta."""
    provisioned_concurrency: NotRequired[int]
    """Default: 1. Provisioned concurrency of the function's alias ``live`` (0 to 1,000, at most
    ``reserved_concurrency``). 0 turns it off: a cold start may then exceed the one second HealthImaging waits."""
    reserved_concurrency: NotRequired[int]
    """Default: 10. Reserved concurrency of the function: the most requests it decides at once (1 to 1,000)."""
    log_retention_days: NotRequired[int]
    """Default: 365. Days the function's log group keeps its logs (a value CloudWatch Logs accepts)."""
    path: NotRequired[str]
    """Default: ``/``. IAM path of the function's role and of the persona roles."""
    permissions_boundary_arn: NotRequired[str]
    """Default: none. Managed policy ARN set as the permissions boundary of the function's role and the persona
    roles."""
    protect_data: NotRequired[bool]
    """Default: True. ``protect`` and ``retain_on_delete`` on the component's KMS key (it encrypts the function's
    environment and logs)."""
    tags: NotRequired[Mapping[str, str]]
    """Default: none. Tags of every resource of the component."""


@dataclass(frozen=True)
class AuthorizerNames(FunctionNames):
    """The AWS names of the component's resources, from the name prefix."""

    @property
    def function(self) -> str:
        return f"{self.prefix}-dicomweb-authorizer"

    @property
    def role(self) -> str:
        return f"{self.prefix}-DicomwebAuthorizerFunction"

    @property
    def key_alias(self) -> str:
        return f"{self.prefix}-dicomweb-authorizer"

    def persona_role(self, persona: str) -> str:
        return f"{self.prefix}-dicomweb-{persona}"


def persona_role_arns_of(args: Mapping[str, Any]) -> dict[str, str]:
    """Persona -> the ARN of its role, from the account, the path and the role names (known before the roles exist)."""
    value = with_defaults(args, DICOMWEB_AUTHORIZER_DEFAULTS)
    names = AuthorizerNames(args["name_prefix"])
    return {
        persona: role_arn(args["account_id"], value("path"), names.persona_role(persona))
        for persona in function_config.PERSONAS_BY_PRIVILEGE
        if persona in args["personas"]
    }


def authorizer_environment(args: Mapping[str, Any]) -> dict[str, str]:
    """The function's environment variables (named by ``healthimaging_functions/dicomweb_authorizer/config.py``,
    which reads them). Public values and names only: no secrets."""
    value = with_defaults(args, DICOMWEB_AUTHORIZER_DEFAULTS)
    personas = args["personas"]
    return {
        function_config.ISSUER: args["issuer"],
        function_config.AUDIENCES: json.dumps(list(args["audiences"])),
        function_config.JWKS_URI: value("jwks_uri") or function_config.default_jwks_uri(args["issuer"]),
        function_config.GROUPS_CLAIM: value("groups_claim"),
        function_config.TOKEN_USES: ",".join(function_config.DEFAULT_TOKEN_USES),
        function_config.PERSONA_GROUPS: json.dumps(
            {p: list(personas[p]) for p in function_config.PERSONAS_BY_PRIVILEGE if p in personas}
        ),
        function_config.PERSONA_ROLE_ARNS: json.dumps(persona_role_arns_of(args)),
    }


def _https_url_problems(setting: str, value: Any, what: str, example: str, *, allow_query: bool = False) -> list[str]:
    """An https URL with a host and no user name, password or fragment (nor a query, unless ``allow_query``)."""
    if not isinstance(value, str) or not value:
        return [f"{setting} = {show(value)}: give the {what} as an https URL, for example {example}."]
    parts = urllib.parse.urlsplit(value)
    if not function_config.is_https_url(value):
        return [
            f"{setting} = {show(value)}: the {what} must be an https URL (tokens and keys travel only over TLS), "
            f"for example {example}."
        ]
    if (parts.query and not allow_query) or parts.fragment or parts.username or parts.password:
        extras = "fragment, user name or password" if allow_query else "query, fragment, user name or password"
        return [f"{setting} = {show(value)}: the {what} must have no {extras}."]
    return []


def _strings_problems(setting: str, value: Any, what: str, example: str, hint: str = "") -> list[str]:
    """A non-empty list of non-empty strings."""
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        return [f"{setting} = {show(value)}: give at least one {what}{hint} as a list, for example [{example}]."]
    return [
        f"{setting}[{index}] = {show(item)}: each {what} must be a non-empty string."
        for index, item in enumerate(value)
        if not isinstance(item, str) or not item.strip()
    ]


def personas_problems(setting: str, personas: Any) -> list[str]:
    """Known personas, each mapped to a non-empty list of group names (the one home of this rule)."""
    known = ", ".join(repr(p) for p in function_config.PERSONAS_BY_PRIVILEGE)
    if not isinstance(personas, Mapping) or not personas:
        return [
            f"{setting} = {show(personas)}: map at least one persona ({known}) to the groups whose members get it, "
            "for example {reader: [radiology], admin: [imaging-admins]}."
        ]
    problems: list[str] = []
    for persona, groups in personas.items():
        if persona not in function_config.PERSONAS_BY_PRIVILEGE:
            problems.append(
                f"{setting} names the persona {show(persona)}, which does not exist; the personas are {known}."
            )
        problems += _strings_problems(f"{setting}.{persona}", groups, "group", "radiology")
    return problems


def _concurrency_problems(
    n: Callable[[str], str], provisioned: Any, reserved: Any, *, reserved_settable: bool
) -> list[str]:
    """Provisioned concurrency from 0 to the reserved concurrency (Lambda cannot keep more copies ready than the
    function may run), reserved concurrency from 1 to :data:`MAX_CONCURRENCY`. Without ``reserved_settable`` the
    reserved concurrency is the default, and provisioned concurrency is simply bounded by it."""
    if not reserved_settable:
        return [
            f"{problem[:-1]} (the authorizer's reserved concurrency: Lambda keeps no more copies ready than the "
            "function may run)."
            for problem in validation.whole_number_problems(n("provisioned_concurrency"), provisioned, 0, reserved)
        ]
    provisioned_problems = validation.whole_number_problems(
        n("provisioned_concurrency"), provisioned, 0, MAX_CONCURRENCY
    )
    reserved_problems = validation.whole_number_problems(n("reserved_concurrency"), reserved, 1, MAX_CONCURRENCY)
    problems = provisioned_problems + reserved_problems
    if not problems and validation.as_whole_number(provisioned) > validation.as_whole_number(reserved):
        problems.append(
            f"{n('provisioned_concurrency')} = {validation.as_whole_number(provisioned)} exceeds "
            f"{n('reserved_concurrency')} = {validation.as_whole_number(reserved)}: Lambda cannot keep more copies "
            "ready than the function may run. Lower the first or raise the second."
        )
    return problems


def token_settings_problems(
    args: Mapping[str, Any], names: Mapping[str, str] | None = None, *, reserved_concurrency_settable: bool = True
) -> list[str]:
    """Every problem with the settings that decide which tokens are accepted and how fast: an https ``issuer``, at
    least one audience, an https ``jwks_uri`` if given, a ``groups_claim``, known ``personas`` that each map at least
    one group, and the function's concurrency. The one home of these rules: ``ImagingDatastore``'s ``dicomweb_oidc``
    (whose fields are these arguments) is checked here too, with ``reserved_concurrency_settable=False`` (it leaves
    the reserved concurrency at its default, so that bounds provisioned concurrency).

    ``names`` maps argument names to the names a person set (stack configuration keys).
    """
    n = shown_as(names)
    value = with_defaults(args, DICOMWEB_AUTHORIZER_DEFAULTS)
    problems: list[str] = []
    # An issuer or audiences given as outputs (a user pool and client of the same program, the viewer's) are checked
    # where they are made.
    if not isinstance(args.get("issuer"), pulumi.Output):
        problems += _https_url_problems(n("issuer"), args.get("issuer"), "issuer", _ISSUER_EXAMPLE)
    if not isinstance(args.get("audiences"), pulumi.Output):
        problems += _strings_problems(
            n("audiences"),
            args.get("audiences"),
            "audience",
            _AUDIENCE_EXAMPLE,
            " (the app client IDs a token may name in aud or client_id)",
        )
    if value("jwks_uri") is not None:
        problems += _https_url_problems(
            n("jwks_uri"), value("jwks_uri"), "JWKS location", _JWKS_EXAMPLE, allow_query=True
        )
    groups_claim = value("groups_claim")
    if not isinstance(groups_claim, str) or not groups_claim.strip():
        problems.append(
            f"{n('groups_claim')} = {show(groups_claim)}: give the name of the claim that lists the groups."
        )
    problems += personas_problems(n("personas"), args.get("personas"))
    problems += _concurrency_problems(
        n,
        value("provisioned_concurrency"),
        value("reserved_concurrency"),
        reserved_settable=reserved_concurrency_settable,
    )
    return problems


def environment_size_problems(args: Mapping[str, Any], names: Mapping[str, str] | None = None) -> list[str]:
    """The function's settings must fit Lambda's environment (only meaningful on otherwise valid arguments).

    An issuer or audiences given as outputs (the viewer's own user pool and client) are measured by the program's
    settings check with stand-ins of their shape, before anything exists; here nothing is known to measure."""
    if _has_outputs(args):
        return []
    n = shown_as(names)
    size = sum(len(k) + len(v.encode()) for k, v in authorizer_environment(args).items())
    if size > MAX_ENVIRONMENT_BYTES:
        return [
            f"{n('personas')} and {n('audiences')} make the function's settings {size} bytes long, more than the "
            f"{MAX_ENVIRONMENT_BYTES} Lambda allows: map fewer or shorter group names."
        ]
    return []


def _datastore_arn_problems(setting: str, arn: Any, account_id: Any, region: Any) -> list[str]:
    """A plain ARN is checked now; an output is checked by the data store that produces it."""
    if not isinstance(arn, str):
        return []
    match = _DATASTORE_ARN.fullmatch(arn)
    if match is None:
        return [
            f"{setting} = {show(arn)} is not a data store ARN (arn:aws:medical-imaging:<region>:<account>:datastore/<id>)."
        ]
    if (match.group(1), match.group(2)) != (region, account_id):
        return [f"{setting} = {show(arn)} is not a data store of account {account_id} in {region}."]
    return []


def validate_dicomweb_authorizer_args(args: Mapping[str, Any], names: Mapping[str, str] | None = None) -> list[str]:
    """Every problem with the plain-valued arguments (empty when valid).

    ``names`` maps argument names to the names a person set (stack configuration keys).
    """
    n = shown_as(names)
    value = with_defaults(args, DICOMWEB_AUTHORIZER_DEFAULTS)

    problems: list[str] = []
    problems += validation.placement_problems(args, names)
    problems += token_settings_problems(args, names)
    problems += _datastore_arn_problems(
        n("datastore_arn"), args.get("datastore_arn"), args.get("account_id"), args.get("region")
    )
    problems += logs.log_retention_problems(n("log_retention_days"), value("log_retention_days"))
    problems += validation.iam_settings_problems(args, value("path"), names)
    if not problems:
        problems += environment_size_problems(args, names)
    return problems


def _has_outputs(args: Mapping[str, Any]) -> bool:
    return isinstance(args.get("issuer"), pulumi.Output) or isinstance(args.get("audiences"), pulumi.Output)


def environment_input(args: Mapping[str, Any]) -> pulumi.Input[dict[str, str]]:
    """:func:`authorizer_environment`, once an issuer or audiences given as outputs are known."""
    if not _has_outputs(args):
        return authorizer_environment(args)
    return pulumi.Output.all(args["issuer"], args["audiences"]).apply(
        lambda v: authorizer_environment({**args, "issuer": v[0], "audiences": v[1]})
    )


def dicomweb_authorizer_warnings(args: DicomwebAuthorizerArgs) -> list[str]:
    """One warning per default that the arguments switch off or weaken."""
    value = with_defaults(args, DICOMWEB_AUTHORIZER_DEFAULTS)
    warnings: list[str] = []
    if validation.whole_number(value("provisioned_concurrency")) == 0:
        warnings.append(
            "The DICOMweb authorizer has no provisioned concurrency (provisioned_concurrency = 0; in a stack, "
            "dicomwebOidc.provisionedConcurrency = 0): HealthImaging waits "
            "one second for its answer, and a cold start (loading the function and fetching the issuer's keys) can "
            "take longer, so the first requests after a quiet time may be refused. Keep at least 1."
        )
    return warnings + function_setup_warnings(
        args, DICOMWEB_AUTHORIZER_DEFAULTS, function="The DICOMweb authorizer", key="the DICOMweb authorizer's key"
    )


_Setup = FunctionSetup[AuthorizerNames]


class DicomwebAuthorizer(pulumi.ComponentResource):
    """A Lambda authorizer for HealthImaging's DICOMweb bearer tokens from an OIDC issuer, with one role per persona
    (see the module docstring)."""

    function_arn: pulumi.Output[str]
    """The ARN to give CreateDatastore as ``lambdaAuthorizerArn``: the alias ``live``, with or without provisioned
    concurrency. Known without the data store; resolves once the alias (and its provisioned concurrency) exists."""
    function_name: pulumi.Output[str]
    """Name of the function (its logs are in ``/aws/lambda/<name>``)."""
    persona_role_arns: pulumi.Output[dict[str, str]]
    """Persona -> ARN of the role HealthImaging assumes for callers of that persona."""

    def __init__(self, name: str, args: DicomwebAuthorizerArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        validation.raise_if_problems(f"DicomwebAuthorizer {name!r}", validate_dicomweb_authorizer_args(args))
        super().__init__(f"{PACKAGE}:index:DicomwebAuthorizer", name, None, opts)
        remember_caller_options(self, opts)
        for warning in dicomweb_authorizer_warnings(args):
            pulumi.log.warn(warning, resource=self)

        setup = function_setup(self, name, args, DICOMWEB_AUTHORIZER_DEFAULTS, AuthorizerNames(args["name_prefix"]))
        provisioned = validation.as_whole_number(setup.value("provisioned_concurrency"))
        function = _create_function(setup, args)
        # HealthImaging always invokes the alias, whatever the provisioned concurrency: the ARN is fixed when the data
        # store is created, so turning provisioned concurrency on or off later must not change it.
        alias = aws.lambda_.Alias(
            f"{name}-alias",
            name=ALIAS_NAME,
            function_name=function.name,
            function_version=function.version,
            description="The version HealthImaging invokes, kept warm by provisioned concurrency when it is on",
            opts=setup.options(),
        )
        ready: pulumi.Resource = alias
        if provisioned > 0:
            ready = aws.lambda_.ProvisionedConcurrencyConfig(
                f"{name}-provisioned-concurrency",
                function_name=function.name,
                qualifier=alias.name,
                provisioned_concurrent_executions=provisioned,
                opts=setup.options(),
            )
        invoked_arn = f"{setup.function_arn}:{ALIAS_NAME}"
        roles = _create_persona_roles(setup, args)
        aws.lambda_.Permission(
            f"{name}-healthimaging-invoke",
            action="lambda:InvokeFunction",
            function=function.name,
            qualifier=alias.name,
            principal=healthimaging_regional_principal(setup.region),
            source_arn=args["datastore_arn"],
            source_account=setup.account_id,
            opts=setup.options(),
        )

        # Known from the names, but an output of the resources that must exist first: a data store created with it
        # waits for the function (and its warm copies).
        self.function_arn = ready.urn.apply(lambda _: invoked_arn)
        self.function_name = function.name
        self.persona_role_arns = pulumi.Output.all(**{p: role.arn for p, role in roles.items()}).apply(dict)
        self.register_outputs(
            {
                "function_arn": self.function_arn,
                "function_name": self.function_name,
                "persona_role_arns": self.persona_role_arns,
            }
        )


def _create_function(setup: _Setup, args: DicomwebAuthorizerArgs) -> aws.lambda_.Function:
    key = function_key(
        setup,
        description=f"Encrypts the HealthImaging DICOMweb authorizer of {setup.names.prefix} (environment, logs)",
        policy=authorizer_key_policy(setup.account_id, setup.region, setup.log_group_arn),
    )
    return python_function(
        setup,
        code=FUNCTION_CODE,
        permission_policy_name=PERMISSION_POLICY_NAME,
        permission_policy=json_when_known(
            authorizer_function_policy, region=setup.region, key_arn=key.arn, log_group_arn=setup.log_group_arn
        ),
        key_arn=key.arn,
        reserved_concurrency=validation.as_whole_number(setup.value("reserved_concurrency")),
        environment=environment_input(args),
        publish=True,
    ).function


def _create_persona_roles(setup: _Setup, args: DicomwebAuthorizerArgs) -> dict[str, aws.iam.Role]:
    """One role per persona given, in order of privilege, each with its DICOMweb actions on the data store."""
    roles: dict[str, aws.iam.Role] = {}
    for persona in function_config.PERSONAS_BY_PRIVILEGE:
        if persona not in args["personas"]:
            continue
        role = aws.iam.Role(
            f"{setup.name}-{persona}-role",
            name=setup.names.persona_role(persona),
            path=setup.role_path,
            description=f"Assumed by HealthImaging for DICOMweb requests of {persona} callers of this data store",
            assume_role_policy=json_when_known(
                persona_trust_policy, account_id=setup.account_id, datastore_arn=args["datastore_arn"]
            ),
            permissions_boundary=setup.permissions_boundary_arn or None,
            tags=setup.tags,
            opts=setup.options(),
        )
        aws.iam.RolePolicy(
            f"{setup.name}-{persona}-permissions",
            name=PERSONA_POLICY_NAME,
            role=role.id,
            policy=json_when_known(persona_permission_policy, persona=persona, datastore_arn=args["datastore_arn"]),
            opts=setup.options(),
        )
        roles[persona] = role
    return roles
