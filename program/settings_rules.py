"""The rules across the stack's settings, run before anything is created.

A component's own rules live next to it (``validate_*_args`` in ``components/``); they run here on the
arguments the stack would pass (:mod:`program.component_args`) with messages that name the stack keys
(:func:`argument_names`). Only rules that join several components live here: the audit trail's bucket is not one
of the bucket pair's, the automatic importer has one alert topic, ``forceDestroyBuckets`` needs
``disposableStack``, and a prefix derived from the stack name fits every name built from it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from components import access, audit_trail
from components.access import validate_access_args
from components.audit_trail import validate_audit_trail_args
from components.auto_import import validate_auto_import_args
from components.bucket_pair import (
    BUCKET_PAIR_DEFAULTS,
    NAMING_ACCOUNT_REGIONAL,
    generated_bucket_name,
    validate_bucket_pair_args,
)
from components.datastore import generated_datastore_name, validate_datastore_args
from components.import_alerts import validate_import_alerts_args
from components.import_role import generated_role_name, validate_import_role_args
from components.viewer_options import validate_viewer_args
from program import component_args
from program.settings_spec import DICOMWEB_OIDC_FIELDS, SETTINGS_SPEC, StackSettings, derived_name_prefix

#: The rules of the components the stack composes, by the short name settings use in ``feeds``.
COMPONENT_VALIDATORS: dict[str, Callable[[Mapping[str, Any], Mapping[str, str]], list[str]]] = {
    "bucket_pair": validate_bucket_pair_args,
    "datastore": validate_datastore_args,
    "import_role": validate_import_role_args,
    "access": validate_access_args,
    "import_alerts": validate_import_alerts_args,
    "audit_trail": validate_audit_trail_args,
    "auto_import": validate_auto_import_args,
    "viewer": validate_viewer_args,
}


def longest_name_prefix(s: StackSettings) -> int:
    """The longest ``namePrefix`` every name built from it allows, with the stack's other settings."""
    limits = [24]  # the prefix rule itself (validation.name_prefix_problems)
    limits.append(64 - len(generated_role_name("")))  # the import role's IAM name, when generated
    if s.bucket_naming == BUCKET_PAIR_DEFAULTS["naming"]:
        suffix = generated_bucket_name("", "output", s.account_id or "0" * 12, s.region or "us-east-1")
        limits.append(63 - len(suffix))
    if not s.access_name_prefix and s.access_personas:
        suffix = access.resource_name("", max(s.access_personas, key=len))
        limits.append(64 - len(suffix))  # IAM names <prefix>-<persona>
        if s.access_identity_center_instance_arn:
            limits.append(32 - len(suffix))  # permission set names
    return min(limits)


def suggested_name_prefix(s: StackSettings) -> str:
    """A valid prefix close to the one derived from the stack name, short enough for every name built from it."""
    cleaned = re.sub(r"[^a-z0-9]+", "-", derived_name_prefix(s.stack)).strip("-")
    return cleaned[: longest_name_prefix(s)].rstrip("-") or "ahi"


def argument_names(s: StackSettings, component: str) -> dict[str, str]:
    """The stack key (or how a derived value came about) to name for each argument of ``component``."""
    names: dict[str, str] = {}
    for setting in SETTINGS_SPEC:
        for feed in setting.feeds:
            owner, _, argument = feed.partition(".")
            if owner == component:
                names.setdefault(argument, setting.key)
    if component in ("bucket_pair", "import_alerts", "audit_trail", "auto_import") and not s.name_prefix_set:
        names["name_prefix"] = f"namePrefix (not set, so derived from the stack name {s.stack!r})"
    if component == "datastore" and not s.datastore_name:
        names["datastore_name"] = f"datastoreName (not set, so {generated_datastore_name('<namePrefix>')!r})"
    if component == "datastore":
        names.update({f"dicomweb_oidc.{field}": f"dicomwebOidc.{key}" for key, field in DICOMWEB_OIDC_FIELDS.items()})
    if component == "viewer":  # the viewer's identity comes from dicomwebOidc
        names.update(
            {
                "oidc_issuer": "dicomwebOidc.issuer",
                "oidc_client_id": "dicomwebOidc.audiences",
                "personas": "dicomwebOidc.personas",
            }
        )
    derived = "" if s.name_prefix_set else f", with namePrefix derived from the stack name {s.stack!r}"
    if component == "import_role" and not s.import_role_name:
        names["role_name"] = f"importRoleName (not set, so {generated_role_name('<namePrefix>')!r}{derived})"
    if component == "access" and not s.access_name_prefix:
        names["name_prefix"] = (
            "accessNamePrefix (empty, so namePrefix)"
            if s.name_prefix_set
            else f"accessNamePrefix (empty, so namePrefix, which is not set and derived from the stack name {s.stack!r})"
        )
    return names


def validate_settings(s: StackSettings) -> list[str]:
    """Every rule the configuration must follow, as sentences that name the key (empty when valid).

    The rules are the components' own, run on the arguments the stack passes them; problems two
    components share (the account, the region) are reported once.
    """
    arguments = {
        component: component_args.PLAIN_ARGS[component](s) for component in component_args.included_components(s)
    }
    problems: list[str] = []
    for component, args in arguments.items():
        problems += COMPONENT_VALIDATORS[component](args, argument_names(s, component))
    problems += audit_bucket_name_problems(s)
    problems += dicomweb_oidc_spelling_problems(s)
    problems += auto_import_alert_problems(s)
    problems += viewer_problems(s)
    if s.force_destroy_buckets and not s.disposable_stack:
        problems.append(
            "forceDestroyBuckets = true needs disposableStack = true: deleting buckets full of medical images is "
            "only allowed on a stack declared throwaway."
        )
    if not s.name_prefix_set:
        advice = f" Set namePrefix, for example {suggested_name_prefix(s)!r}."
        problems = [p + advice if "derived from the stack name" in p else p for p in problems]
    return list(dict.fromkeys(problems))


def dicomweb_oidc_spelling_problems(s: StackSettings) -> list[str]:
    """A ``dicomwebOidc`` field written as the component's argument (``jwks_uri``) instead of the stack's
    (``jwksUri``): the component would take it, but the stack's spelling is the contract."""
    stack_names = {argument: key for key, argument in DICOMWEB_OIDC_FIELDS.items() if key != argument}
    return [
        f"dicomwebOidc.{field} is spelt as the component's argument; in the stack write it {stack_names[field]}."
        for field in s.dicomweb_oidc
        if field in stack_names
    ]


def viewer_problems(s: StackSettings) -> list[str]:
    """The viewer reads DICOMweb with the tokens of the authorizer the stack builds."""
    if not s.viewer:
        return []
    problems = []
    if s.datastore_lambda_authorizer_arn:
        problems.append(
            "viewer = true with datastoreLambdaAuthorizerArn: the viewer's users get their access from the groups the "
            "stack's own authorizer maps to personas, and a function the stack did not build cannot be told the "
            "viewer's user pool, client and groups. Remove datastoreLambdaAuthorizerArn (the stack then builds the "
            "authorizer from dicomwebOidc, or from the viewer's user pool), or keep it and turn viewer off."
        )
    oidc = s.dicomweb_oidc
    if not oidc.get("issuer") and oidc.get("audiences"):
        problems.append(
            "dicomwebOidc.audiences is set without dicomwebOidc.issuer while viewer = true: the stack's user pool and "
            "the viewer's client become the issuer and the audience. Remove audiences, or give your provider's issuer "
            "with the viewer's client ID first in audiences."
        )
    return problems


def audit_bucket_name_problems(s: StackSettings) -> list[str]:
    """The audit trail's bucket (explicit or generated) must not be one of the other buckets."""
    if not s.audit_trail:
        return []
    regional = s.bucket_naming == NAMING_ACCOUNT_REGIONAL
    audit = s.audit_bucket_name or (
        audit_trail.generated_bucket_name(s.name_prefix, s.account_id, s.region) if regional else ""
    )
    problems = []
    for role, key, explicit in (
        ("input", "inputBucketName", s.input_bucket_name),
        ("output", "outputBucketName", s.output_bucket_name),
        ("log", "logBucketName", s.log_bucket_name),
    ):
        final = explicit or (generated_bucket_name(s.name_prefix, role, s.account_id, s.region) if regional else "")
        if audit and final == audit:
            if s.audit_bucket_name and explicit:
                both, change = f"auditBucketName and {key}", "auditBucketName"
            elif s.audit_bucket_name:
                both, change = f"auditBucketName (set) and {key} (generated)", "auditBucketName"
            else:
                both, change = f"auditBucketName (generated) and {key} (set)", key
            problems.append(
                f"{both} are both {audit!r}: the audit trail needs a bucket of its own. Choose another {change}."
            )
    return problems


def auto_import_alert_problems(s: StackSettings) -> list[str]:
    """Where the automatic importer's alerts go: one topic, and a key only with a topic."""
    problems = []
    if s.auto_import and s.import_alerts and s.auto_import_alert_topic_arn:
        problems.append(
            "autoImportAlertTopicArn is set and importAlerts is on: the automatic importer would have two alert "
            "topics. Remove autoImportAlertTopicArn (importAlerts' topic is used), or turn importAlerts off."
        )
    if s.auto_import_alert_topic_kms_key_arn and not s.auto_import_alert_topic_arn:
        problems.append(
            "autoImportAlertTopicKmsKeyArn is set without autoImportAlertTopicArn: set the topic too, or remove the key."
        )
    return problems
