"""The HealthImaging data store, guarded against accidental replacement."""

import json
from collections.abc import Mapping, Sequence
from typing import Any, NotRequired, Optional, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_aws_native as aws_native

from ahiops.dicomweb import dicomweb_url

from . import policies, validation
from ._arguments import shown_as, tags_of, with_defaults
from ._resource_options import PACKAGE, child_options, remember_caller_options
from .created_datastore import create_datastore
from .datastore_options import (
    FORMAT_HTJ2K,
    create_only_drift_warning,
    creation_option_problems,
    uses_created_datastore,
)
from .kms import customer_managed_key, key_policy
from .validation import logs

ENCRYPTION_CUSTOMER_MANAGED_KEY = "customer-managed-key"
ENCRYPTION_AWS_OWNED_KEY = "aws-owned-key"
DATASTORE_ENCRYPTION_CHOICES = (ENCRYPTION_CUSTOMER_MANAGED_KEY, ENCRYPTION_AWS_OWNED_KEY)

#: Default of every optional argument of :class:`ImagingDatastore` (the one place each default lives).
DATASTORE_DEFAULTS: dict[str, Any] = {
    "encryption": ENCRYPTION_CUSTOMER_MANAGED_KEY,
    "allow_unlisted_region": False,
    "allow_cross_account_key": False,
    "allow_replacement": False,
    "retained_datastore_ids": [],
    "protect_data": True,
    "lossless_storage_format": FORMAT_HTJ2K,
    "path": "/",
    "log_retention_days": 365,
}

#: Properties of ``aws-native:healthimaging:Datastore`` that are create-only: pulumi-aws-native replaces
#: the data store when any of them changes (a single tag edit included).
CREATE_ONLY_PROPERTIES = ("datastoreName", "kmsKeyArn", "tags")


class DicomwebOidcArgs(TypedDict):
    """The OIDC identity provider whose bearer tokens the built authorizer accepts for DICOMweb
    (``ImagingDatastoreArgs.dicomweb_oidc``)."""

    issuer: str
    """The issuer (an https URL): tokens must carry it in ``iss``."""
    audiences: Sequence[str]
    """At least one: a token must carry one of them in ``aud`` or ``client_id``."""
    jwks_uri: NotRequired[str]
    """Default: ``<issuer>/.well-known/jwks.json``. Where the issuer publishes its signing keys (https)."""
    groups_claim: NotRequired[str]
    """Default: ``cognito:groups``. The token claim that lists the caller's groups."""
    personas: Mapping[str, Sequence[str]]
    """Which groups get which persona (``reader``, ``importer``, ``admin``), for example
    ``{"reader": ["radiology"], "admin": ["imaging-admins"]}``; each persona listed maps at least one group."""
    provisioned_concurrency: NotRequired[int]
    """Default: 1. Provisioned concurrency of the authorizer function (0 to 10): HealthImaging waits at most one
    second for its answer, which a cold start can exceed. 0 turns it off (logs a warning)."""


class ImagingDatastoreArgs(TypedDict):
    """Arguments of :class:`ImagingDatastore`."""

    account_id: str
    """The 12-digit AWS account of the data store (key policy)."""
    region: str
    """The region of the data store (key policy)."""
    datastore_name: str
    """Name of the data store: 1 to 256 characters of letters, digits and ``. _ / # -``. Names need not be unique."""
    encryption: NotRequired[str]
    """Default: ``customer-managed-key``: the component creates a key (rotation on, 30-day deletion window)
    and, once the data store exists, sets the key policy AWS documents for HealthImaging (the account
    statement plus :func:`components.policies.datastore_key_service_statement` for this data store), unless
    ``kms_key_arn`` supplies a key. ``aws-owned-key`` uses a key that AWS owns and manages (logs a warning:
    the account can neither audit nor revoke its use)."""
    kms_key_arn: NotRequired[str]
    """Default: none. ARN of an existing customer managed key to use instead of creating one: a single-Region
    key (``key/<uuid>``; HealthImaging refuses a multi-Region ``key/mrk-...``). The component cannot edit the
    policy of a key it does not own, so the key's policy must already (1) delegate to IAM (the account
    statement, :func:`components.policies.account_administration_statement`) or name the identity that deploys,
    and that identity needs :func:`components.policies.datastore_key_creator_statement` (CreateGrant, Decrypt,
    DescribeKey, GenerateDataKey, ReEncrypt*, RetireGrant through HealthImaging only); and (2) once the data
    store exists, add :func:`components.policies.datastore_key_service_statement` with the key's ARN and the
    ``datastore_id`` output (AWS's documented statement for HealthImaging)."""
    key_alias: NotRequired[str]
    """Default: ``<project>-<stack>-<name>-key`` (the Pulumi project and stack, and this component's name), with
    characters KMS aliases refuse replaced by ``-``. The key's alias (without ``alias/``). It never follows
    ``datastore_name``: the name is create-only, so a renamed data store keeps its old name, and names need not
    be unique, so two stacks could pick the same one. Pass a name that is stable and unique per stack in the
    account and region (the program passes ``<namePrefix>-datastore-key``); KMS refuses to create an alias that
    exists, so a clash fails the deployment instead of moving another stack's alias."""
    tags: NotRequired[Mapping[str, str]]
    """Default: none. Tags of the data store (and of its key), set when the data store is created. Keys follow
    HealthImaging's rule, narrower than other AWS resources': ASCII letters, digits and ``_ . : / = + -`` only."""
    allow_unlisted_region: NotRequired[bool]
    """Default: False. Accept a ``region`` that is not in the list of regions where HealthImaging runs
    (:data:`components.validation.HEALTHIMAGING_REGIONS`), for regions AWS has added since."""
    allow_cross_account_key: NotRequired[bool]
    """Default: False. Accept a ``kms_key_arn`` of another account (whose key policy grants this one access)."""
    allow_replacement: NotRequired[bool]
    """Default: False. The data store's name, key and tags are create-only: any change would replace the
    data store, and a data store that holds image sets cannot be deleted. While False, changes to them are
    ignored after creation (and reported with a warning), and the data store is ``protect``ed. True applies
    them by replacing the data store: it is then not ``protect``ed (unless the caller's options protect the
    component), a new, empty data store is created, and, with ``protect_data``, the old one is retained in
    the account with its image sets (``retain_on_delete``) and leaves the stack (logs a warning). Before
    replacing, add the current ``datastore_id`` to ``retained_datastore_ids``. With ``protect_data`` this
    covers a new name or new tags, not a key change away from the key the component created (to an AWS owned
    key, or to ``kms_key_arn``): that removes the created key and its key policy, which are protected, so the
    update fails on them; move to another key by creating a second data store instead."""
    retained_datastore_ids: NotRequired[Sequence[str]]
    """Default: ``[]``. IDs of data stores that use the key this component created and stay in the account,
    usually ones replaced under ``allow_replacement`` and retained with their image sets. The key's policy keeps
    HealthImaging's documented statement for them: their IDs stay in its ``datastoreId`` condition beside the
    current data store's. Only with the key the component creates (a supplied key's policy is its owner's)."""
    protect_data: NotRequired[bool]
    """Default: True. ``protect`` and ``retain_on_delete`` on the data store and its key."""
    lossless_storage_format: NotRequired[str]
    """Default: ``HTJ2K`` (HealthImaging's default). How HealthImaging stores lossless frames, fixed when the data
    store is created: ``HTJ2K`` or ``JPEG_2000_LOSSLESS`` (frames kept as transfer syntax 1.2.840.10008.1.2.4.90, for
    viewers and archives that want JPEG 2000 without transcoding). ``JPEG_2000_LOSSLESS`` creates the data store
    through the data store creator function (:mod:`components.created_datastore`); ``HTJ2K`` without an authorizer
    keeps the aws-native resource. Changing it later is a replacement (``allow_replacement``)."""
    lambda_authorizer_arn: NotRequired[str]
    """Default: none. An existing Lambda function of this account and region (``arn:aws:lambda:<region>:<account>:
    function:<name>[:<alias>]``) that checks OIDC bearer tokens for DICOMweb, given to HealthImaging at creation.
    Its resource policy must let ``medical-imaging.<region>.amazonaws.com`` invoke it for this data store. Not with
    ``dicomweb_oidc``. Fixed at creation: adding one later takes an AWS Support case."""
    dicomweb_oidc: NotRequired[DicomwebOidcArgs]
    """Default: none. Build the authorizer (:class:`~components.dicomweb_authorizer.DicomwebAuthorizer`) for this
    OIDC provider: a function that verifies bearer tokens, one role per persona that HealthImaging assumes for this
    data store only, and the function's resource policy. Not with ``lambda_authorizer_arn``. Fixed at creation."""
    name_prefix: NotRequired[str]
    """Default: none; required with ``JPEG_2000_LOSSLESS`` or an authorizer. Prefix of the names of the data store
    creator (function ``<prefix>-datastore-creator``, its role and key alias) and of the authorizer."""
    path: NotRequired[str]
    """Default: ``/``. IAM path of the creator's and the authorizer's roles (only with an option above)."""
    permissions_boundary_arn: NotRequired[str]
    """Default: none. Permissions boundary of the creator's and the authorizer's roles (only with an option above)."""
    log_retention_days: NotRequired[int]
    """Default: 365. Days the creator function's log group keeps its logs (only with an option above)."""


def validate_datastore_args(args: Mapping[str, Any], names: Mapping[str, str] | None = None) -> list[str]:
    """Every problem with the arguments, as sentences naming the argument (empty when valid).

    ``names`` maps argument names to the names a person set (stack configuration keys).
    """

    n = shown_as(names)
    value = with_defaults(args, DATASTORE_DEFAULTS)

    problems: list[str] = []
    problems += validation.account_id_problems(n("account_id"), args.get("account_id"))
    problems += validation.region_problems(
        n("region"),
        args.get("region", ""),
        allow_unlisted=value("allow_unlisted_region"),
        allow_unlisted_setting=n("allow_unlisted_region"),
    )
    problems += validation.datastore_name_problems(n("datastore_name"), args.get("datastore_name", ""))
    encryption = value("encryption")
    problems += validation.choice_problems(n("encryption"), encryption, DATASTORE_ENCRYPTION_CHOICES)
    if args.get("kms_key_arn"):
        if encryption == ENCRYPTION_AWS_OWNED_KEY:
            problems.append(
                f"{n('kms_key_arn')} is set but {n('encryption')} is {ENCRYPTION_AWS_OWNED_KEY!r}; remove one of the two."
            )
        elif not problems:
            problems += validation.kms_key_arn_problems(
                n("kms_key_arn"),
                args["kms_key_arn"],
                region=args["region"],
                account_id=args["account_id"],
                allow_cross_account=value("allow_cross_account_key"),
                allow_cross_account_setting=n("allow_cross_account_key"),
                # HealthImaging's API model: KmsKeyArn is key/<uuid> or alias/..., never a multi-Region key/mrk-...
                allow_multi_region=False,
                used_by="HealthImaging",
            )
    retained = value("retained_datastore_ids")
    retained_problems = validation.datastore_ids_problems(n("retained_datastore_ids"), retained)
    problems += retained_problems
    if retained and not retained_problems:
        if encryption == ENCRYPTION_AWS_OWNED_KEY:
            problems.append(
                f"{n('retained_datastore_ids')} is set but {n('encryption')} is {ENCRYPTION_AWS_OWNED_KEY!r}: the IDs "
                "go into the policy of the key this component creates, and there is none; remove them."
            )
        elif args.get("kms_key_arn"):
            problems.append(
                f"{n('retained_datastore_ids')} is set but {n('kms_key_arn')} supplies the key, whose policy this "
                "component does not edit: add the IDs to that key's policy "
                "(components.policies.datastore_key_service_statement) and remove them here."
            )
    if args.get("key_alias"):
        problems += validation.kms_alias_name_problems(n("key_alias"), args["key_alias"])
    if args.get("tags"):
        problems += validation.datastore_tags_problems(n("tags"), args["tags"])
    problems += creation_option_problems(args, n)
    if uses_created_datastore(args):
        if args.get("name_prefix"):
            problems += validation.name_prefix_problems(n("name_prefix"), args["name_prefix"])
        problems += validation.iam_settings_problems(
            {key: value for key, value in args.items() if key != "tags"}, value("path"), names
        )
        problems += logs.log_retention_problems(n("log_retention_days"), value("log_retention_days"))
    return problems


def datastore_warnings(args: ImagingDatastoreArgs) -> list[str]:
    """One warning per safety default that the arguments switch off."""
    value = with_defaults(args, DATASTORE_DEFAULTS)
    warnings = validation.foreign_key_warnings("kms_key_arn", args.get("kms_key_arn"), args.get("account_id"))
    if value("encryption") == ENCRYPTION_AWS_OWNED_KEY:
        warnings.append(
            "The data store uses an AWS owned key, not a customer managed key: the account cannot audit, "
            "rotate or revoke access to the key that protects the images."
        )
    if value("allow_replacement"):
        if value("protect_data"):
            warnings.append(
                "Data store replacement is ALLOWED: the data store is not protected, and a change of its name, "
                "tags, lossless storage format or authorizer creates a new, EMPTY data store. The old one and its image sets stay in the account "
                "(retained, no longer managed by the stack). BEFORE replacing, add the current data store's ID "
                "(datastore_id; the stack output datastoreId) to retained_datastore_ids (the stack setting "
                "retainedDatastoreIds), so that the key's policy keeps HealthImaging's statement for the retained "
                "store. A KEY change is not covered: moving away from the key this component created (to an AWS "
                "owned key or to a supplied key) removes that key and its key policy, which are protected, so "
                "`pulumi up` fails on them; create a second data store instead "
                "(docs/security-and-data-safety.md, 'Changing the data store')."
            )
        else:
            warnings.append(
                "Data store replacement is ALLOWED and data protection is OFF: a change of the data store's name, "
                "key, tags, lossless storage format or authorizer creates a new, EMPTY data store, and Pulumi tries to delete the old one (HealthImaging "
                "refuses while it holds image sets)."
            )
    if not value("protect_data"):
        if uses_created_datastore(args):
            warnings.append(
                "Data protection is OFF for the data store and its key: `pulumi destroy` deletes the key, but NOT the "
                "data store, which the data store creator function made and never deletes; delete it yourself "
                "(`aws medical-imaging delete-datastore --datastore-id <datastoreId>`, once it holds no image set)."
            )
        else:
            warnings.append("Data protection is OFF for the data store and its key: `pulumi destroy` deletes them.")
    return warnings


def drift_warnings(desired: Mapping[str, Any], actual: Mapping[str, Any]) -> list[str]:
    """Warnings for create-only properties whose desired value differs from the deployed one."""
    warnings = []
    for prop in CREATE_ONLY_PROPERTIES:
        want, have = desired.get(prop), actual.get(prop)
        if prop == "tags":
            want, have = dict(want or {}), dict(have or {})
        if want is not None and have is not None and want != have:
            warnings.append(create_only_drift_warning(prop, have, want))
    return warnings


def key_alias_for(stem: str) -> str:
    """``<stem>-key`` as a KMS alias name: every character aliases refuse (they accept ASCII ``[A-Za-z0-9/_-]``)
    becomes ``-``."""
    cleaned = "".join(c if (c.isascii() and c.isalnum()) or c in "/_-" else "-" for c in stem)
    return f"{cleaned[:200]}-key"


def generated_datastore_name(name_prefix: str) -> str:
    """The data store's name when none is chosen: ``<prefix>-datastore``."""
    return f"{name_prefix}-datastore"


def prefixed_key_alias(name_prefix: str) -> str:
    """The key's alias in a stack whose names start with ``name_prefix``: ``<prefix>-datastore-key``.

    Built from the name prefix, which stays the same for the life of the stack and tells the stacks of one account
    apart (it also names their IAM roles and policies, which IAM keeps unique per account); never from a chosen
    ``datastore_name``, which may change in the configuration but not in AWS (create-only), and which two stacks may
    share.
    """
    return key_alias_for(generated_datastore_name(name_prefix))


def default_key_alias(name: str) -> str:
    """The alias a component named ``name`` gives its key when none is passed: ``<project>-<stack>-<name>-key``,
    stable for the life of the stack and different in every stack of the project."""
    return key_alias_for(f"{pulumi.get_project()}-{pulumi.get_stack()}-{name}")


class ImagingDatastore(pulumi.ComponentResource):
    """An ``aws-native:healthimaging:Datastore``, encrypted with a customer managed key by default,
    protected, retained on delete and never replaced by a configuration edit unless explicitly allowed.

    With ``lossless_storage_format="JPEG_2000_LOSSLESS"`` or an authorizer (``lambda_authorizer_arn``,
    ``dicomweb_oidc``), which CloudFormation cannot set, the data store is created by the data store creator function
    instead, and read back with aws-native (:mod:`components.created_datastore`); the outputs are the same."""

    datastore_id: pulumi.Output[str]
    """The data store ID (32 lowercase letters and digits), used by import jobs."""
    datastore_arn: pulumi.Output[str]
    """The data store ARN, used in the import role's trust policy."""
    datastore_status: pulumi.Output[str]
    """CREATING, ACTIVE, CREATE_FAILED, DELETING or DELETED."""
    kms_key_arn: pulumi.Output[Optional[str]]
    """ARN of the customer managed key that encrypts the data store, or None with an AWS owned key."""
    dicomweb_url: pulumi.Output[str]
    """The data store's DICOMweb root, ``https://dicom-medical-imaging.<region>.amazonaws.com/datastore/<id>``: sign
    requests with SigV4 (service ``medical-imaging``), or send an OIDC bearer token when an authorizer is set."""
    authorizer_function_arn: pulumi.Output[Optional[str]]
    """The authorizer given to HealthImaging (``lambda_authorizer_arn``, or the function built from
    ``dicomweb_oidc``), or None."""
    persona_role_arns: pulumi.Output[Mapping[str, str]]
    """With ``dicomweb_oidc``: persona -> ARN of the role HealthImaging assumes for a token of that persona; else
    empty."""

    def __init__(self, name: str, args: ImagingDatastoreArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        validation.raise_if_problems(f"ImagingDatastore {name!r}", validate_datastore_args(args))
        super().__init__(f"{PACKAGE}:index:ImagingDatastore", name, None, opts)
        remember_caller_options(self, opts)
        for warning in datastore_warnings(args):
            pulumi.log.warn(warning, resource=self)
        value = with_defaults(args, DATASTORE_DEFAULTS)
        protect_data = value("protect_data")
        tags = tags_of(args)

        # The key policy follows the HealthImaging developer guide's page "Data encryption" (see the comment
        # above components.policies.datastore_key_initial_policy): the key is created with the account
        # statement only, the data store is created with it, and then an aws.kms.KeyPolicy sets the whole
        # policy, adding the documented service statement that names this data store's ID. Key -> data
        # store -> key policy: no cycle. From then on the KeyPolicy owns the key's policy and the key
        # ignores its own `policy` input (two owners would overwrite each other on every update).
        key: Optional[aws.kms.Key] = None
        key_arn: Optional[pulumi.Input[str]] = None
        if value("encryption") == ENCRYPTION_CUSTOMER_MANAGED_KEY:
            if args.get("kms_key_arn"):
                key_arn = args["kms_key_arn"]
            else:
                key = customer_managed_key(
                    f"{name}-key",
                    parent=self,
                    # Stable, like the alias: never the data store's name, which may change here but not in AWS.
                    description=(
                        f"Encrypts the HealthImaging data store {name!r} of stack "
                        f"{pulumi.get_project()}/{pulumi.get_stack()}"
                    ),
                    policy=policies.datastore_key_initial_policy(args["account_id"]),
                    alias=args.get("key_alias") or default_key_alias(name),
                    protect_data=protect_data,
                    tags=tags,
                    policy_managed_by_key_policy=True,
                )
                key_arn = key.arn

        allow_replacement = value("allow_replacement")
        if uses_created_datastore(args):
            created = create_datastore(
                self,
                name,
                args,
                DATASTORE_DEFAULTS,
                key_arn=key_arn,
                protect_data=protect_data,
                allow_replacement=allow_replacement,
            )
            self._finish(
                args,
                name,
                key=key,
                key_arn=key_arn,
                protect_data=protect_data,
                datastore_id=created.datastore_id,
                datastore_arn=created.datastore_arn,
                datastore_status=created.datastore_status,
                authorizer_function_arn=created.authorizer_function_arn,
                persona_role_arns=created.persona_role_arns,
            )
            return
        datastore = aws_native.healthimaging.Datastore(
            name,
            datastore_name=args["datastore_name"],
            kms_key_arn=key_arn,
            tags=tags,
            # Replacement needs an unprotected data store; retain_on_delete then keeps the replaced one.
            opts=child_options(
                self,
                protect_data=protect_data and not allow_replacement,
                retain_on_delete=protect_data,
                ignore_changes=None if allow_replacement else list(CREATE_ONLY_PROPERTIES),
            ),
        )
        self._key_policy(args, name, key=key, datastore_id=datastore.datastore_id, protect_data=protect_data)
        if not allow_replacement:
            desired = {"datastoreName": args["datastore_name"], "kmsKeyArn": key_arn, "tags": tags}

            def report_drift(actual: list[Any]) -> None:
                deployed = {"datastoreName": actual[0], "kmsKeyArn": actual[1], "tags": actual[2]}
                for message in drift_warnings({**desired, "kmsKeyArn": actual[3]}, deployed):
                    pulumi.log.warn(message, resource=self)

            pulumi.Output.all(
                datastore.datastore_name, datastore.kms_key_arn, datastore.tags, pulumi.Output.from_input(key_arn)
            ).apply(report_drift)

        self._register(
            args,
            key_arn=key_arn,
            datastore_id=datastore.datastore_id,
            datastore_arn=datastore.datastore_arn,
            datastore_status=datastore.datastore_status.apply(lambda status: str(status) if status is not None else ""),
            authorizer_function_arn=pulumi.Output.from_input(None),
            persona_role_arns=pulumi.Output.from_input({}),
        )

    def _finish(
        self,
        args: ImagingDatastoreArgs,
        name: str,
        *,
        key: Optional[aws.kms.Key],
        key_arn: Optional[pulumi.Input[str]],
        protect_data: bool,
        **outputs: Any,
    ) -> None:
        """The key policy for the created data store, then the outputs."""
        self._key_policy(args, name, key=key, datastore_id=outputs["datastore_id"], protect_data=protect_data)
        self._register(args, key_arn=key_arn, **outputs)

    def _key_policy(
        self,
        args: ImagingDatastoreArgs,
        name: str,
        *,
        key: Optional[aws.kms.Key],
        datastore_id: pulumi.Output[str],
        protect_data: bool,
    ) -> None:
        """Once the data store exists, the whole policy of the key this component created (none for other keys)."""
        if key is None:
            return
        account_id = args["account_id"]
        retained = list(with_defaults(args, DATASTORE_DEFAULTS)("retained_datastore_ids"))
        key_policy(
            f"{name}-key-policy",
            parent=self,
            key=key,
            policy=pulumi.Output.all(key.arn, datastore_id).apply(
                lambda v: json.dumps(policies.datastore_key_policy(account_id, v[0], v[1], retained))
            ),
            protect_data=protect_data,
        )

    def _register(
        self,
        args: ImagingDatastoreArgs,
        *,
        key_arn: Optional[pulumi.Input[str]],
        datastore_id: pulumi.Output[str],
        datastore_arn: pulumi.Output[str],
        datastore_status: pulumi.Output[str],
        authorizer_function_arn: pulumi.Output[Any],
        persona_role_arns: pulumi.Output[Any],
    ) -> None:
        region = args["region"]
        self.datastore_id = datastore_id
        self.datastore_arn = datastore_arn
        self.datastore_status = datastore_status
        self.kms_key_arn = pulumi.Output.from_input(key_arn)
        self.dicomweb_url = datastore_id.apply(lambda datastore: dicomweb_url(region, datastore))
        self.authorizer_function_arn = authorizer_function_arn
        self.persona_role_arns = persona_role_arns
        self.register_outputs(
            {
                "datastore_id": self.datastore_id,
                "datastore_arn": self.datastore_arn,
                "datastore_status": self.datastore_status,
                "kms_key_arn": self.kms_key_arn,
                "dicomweb_url": self.dicomweb_url,
                "authorizer_function_arn": self.authorizer_function_arn,
                "persona_role_arns": self.persona_role_arns,
            }
        )
