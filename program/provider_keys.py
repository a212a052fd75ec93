"""Pulumi's own ``aws:`` and ``aws-native:`` stack keys, and what this program does with each.

The program creates explicit ``aws`` and ``aws-native`` providers, pinned to the stack's ``accountId`` and
``region``. An explicit provider reads none of the ``aws:*`` / ``aws-native:*`` keys that configure
Pulumi's default providers, yet those are the keys every Pulumi AWS user already sets (``aws:profile`` per
stack, ``aws:assumeRoles`` in CI, ``aws:region``). So every such key is either passed on or refused with a
message that says what to set instead; none is ignored without a word.

Passed on (:data:`HONOURED_KEYS`): the profile, one role to assume, the Cloud Control role of aws-native,
retries and forbidden accounts, to both providers where both accept the setting. Accepted when they agree
with the program's own settings: the region (must equal ``region``) and the allowed accounts (must be
exactly ``[accountId]``). Refused (:data:`REFUSED_KEYS`): default tags, static credentials, switches that
would disable the account guard, and any other key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Provider namespaces whose keys this module judges.
NAMESPACES = ("aws", "aws-native")

#: Keys passed on to the providers, with what happens to them (docs/configuration.md, "Pulumi's own provider keys").
HONOURED_KEYS: dict[str, str] = {
    "aws:profile": "named profile of the shared config files, for both providers",
    "aws-native:profile": "the same; must agree with aws:profile when both are set",
    "aws:assumeRoles": "a list with one role to assume (roleArn, sessionName, externalId, duration, ...), "
    "for both providers; aws-native accepts a single role, so a chain must come from a profile instead",
    "aws:assumeRole": "the older single-role form of aws:assumeRoles",
    "aws-native:assumeRole": "the same single role; must agree with aws:assumeRoles when both are set",
    "aws-native:roleArn": "the role Cloud Control (which creates the data store) assumes, for aws-native only",
    "aws:maxRetries": "retries of throttled or failed API calls, for both providers",
    "aws-native:maxRetries": "the same; must agree with aws:maxRetries when both are set",
    "aws:forbiddenAccountIds": "accounts both providers refuse (must not contain accountId)",
    "aws:region": "must equal region",
    "aws-native:region": "must equal region",
    "aws:allowedAccountIds": "must be exactly [accountId]",
    "aws-native:allowedAccountIds": "must be exactly [accountId]",
}

_TAGS_ADVICE = (
    "Set the project's `tags` instead: it reaches every aws resource through the aws provider's default tags "
    "and the data store only when it is created (aws-native default tags would reach the data store, whose tags "
    "are create-only, so a tag edit would replace it)."
)
_CREDENTIALS_ADVICE = (
    "Credentials never belong in stack configuration: use a profile or SSO session (aws:profile, AWS_PROFILE, "
    "`aws sso login`) or the environment's role."
)
_GUARD_ADVICE = (
    "It would switch off the check that stops both providers from acting in another account than accountId. Remove it."
)
_FILES_ADVICE = (
    "aws-native cannot take the same list, so set the AWS_CONFIG_FILE or AWS_SHARED_CREDENTIALS_FILE "
    "environment variable, which both providers read."
)

#: Keys refused with a reason and the setting to use instead.
REFUSED_KEYS: dict[str, str] = {
    "aws:defaultTags": _TAGS_ADVICE,
    "aws-native:defaultTags": _TAGS_ADVICE,
    "aws:accessKey": _CREDENTIALS_ADVICE,
    "aws:secretKey": _CREDENTIALS_ADVICE,
    "aws:token": _CREDENTIALS_ADVICE,
    "aws-native:accessKey": _CREDENTIALS_ADVICE,
    "aws-native:secretKey": _CREDENTIALS_ADVICE,
    "aws-native:token": _CREDENTIALS_ADVICE,
    "aws:skipCredentialsValidation": _GUARD_ADVICE,
    "aws:skipRequestingAccountId": _GUARD_ADVICE,
    "aws-native:skipCredentialsValidation": _GUARD_ADVICE,
    "aws-native:skipRequestingAccountId": _GUARD_ADVICE,
    "aws:sharedConfigFiles": _FILES_ADVICE,
    "aws:sharedCredentialsFiles": _FILES_ADVICE,
    "aws-native:sharedCredentialsFile": _FILES_ADVICE,
}

_ROLE_ARN = re.compile(r"arn:aws:iam::[0-9]{12}:role/[\x21-\x7e]{1,512}")
_SESSION_NAME = re.compile(r"[A-Za-z0-9+=,.@_-]{2,64}")
_DURATION = re.compile(r"(?:(?P<h>[0-9]+)h)?(?:(?P<m>[0-9]+)m)?(?:(?P<s>[0-9]+)s)?")
#: Members of an assume-role entry, in the aws provider's spelling, and the aws-native spelling of each.
_ASSUME_ROLE_MEMBERS = {
    "roleArn": "roleArn",
    "sessionName": "sessionName",
    "externalId": "externalId",
    "duration": "durationSeconds",
    "policy": "policy",
    "policyArns": "policyArns",
    "tags": "tags",
    "transitiveTagKeys": "transitiveTagKeys",
}


@dataclass(frozen=True)
class AssumeRole:
    """One role for both providers to assume before acting."""

    role_arn: str
    session_name: str | None = None
    external_id: str | None = None
    duration_seconds: int | None = None
    policy: str | None = None
    policy_arns: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    transitive_tag_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProviderKeys:
    """What the stack's own provider keys add to the two explicit providers."""

    profile: str | None = None
    assume_role: AssumeRole | None = None
    native_role_arn: str | None = None
    max_retries: int | None = None
    forbidden_account_ids: tuple[str, ...] = ()


def _json(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def _duration_seconds(key: str, value: Any, problems: list[str]) -> int | None:
    """A Go-style duration (``1h``, ``15m``, ``900s``, ``1h30m``) or a number of seconds, 15 min to 12 h."""
    seconds: int | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer():
        seconds = int(value)
    elif isinstance(value, str) and value and (match := _DURATION.fullmatch(value)):
        seconds = int(match["h"] or 0) * 3600 + int(match["m"] or 0) * 60 + int(match["s"] or 0)
    if seconds is None or not 900 <= seconds <= 43200:
        problems.append(
            f"{key} duration = {value!r}: give a session length from 15m to 12h, for example '1h' or '900s'."
        )
        return None
    return seconds


def _string_list(value: Any) -> tuple[str, ...] | None:
    """A list of strings as a tuple, or None when ``value`` is anything else."""
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    return None


def _assume_role(key: str, entry: Any, account_id: str, problems: list[str]) -> AssumeRole | None:
    if not isinstance(entry, Mapping):
        problems.append(f"{key} = {entry!r}: expected a mapping with at least roleArn.")
        return None
    before = len(problems)
    unknown = sorted(set(entry) - set(_ASSUME_ROLE_MEMBERS) - {"durationSeconds"})
    if unknown:
        problems.append(
            f"{key} has {', '.join(map(repr, unknown))}, which this program cannot pass to both providers; "
            f"it accepts {', '.join(_ASSUME_ROLE_MEMBERS)}. Remove the others, or assume the role through a profile."
        )
    role_arn = entry.get("roleArn")
    if not isinstance(role_arn, str) or not _ROLE_ARN.fullmatch(role_arn):
        problems.append(f"{key} roleArn = {role_arn!r} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>).")
        return None
    if account_id and role_arn.split(":")[4] != account_id:
        problems.append(
            f"{key} roleArn = {role_arn!r} is a role of account {role_arn.split(':')[4]}, but both providers are "
            f"pinned to accountId ({account_id!r}) and would refuse to act as it. Assume a role of {account_id}."
        )
    session_name = entry.get("sessionName")
    if session_name is not None and (not isinstance(session_name, str) or not _SESSION_NAME.fullmatch(session_name)):
        problems.append(f"{key} sessionName = {session_name!r}: 2 to 64 letters, digits and + = , . @ _ -.")
    external_id = entry.get("externalId")
    if external_id is not None and not isinstance(external_id, str):
        problems.append(f"{key} externalId = {external_id!r}: expected text; quote it.")
    policy = entry.get("policy")
    if policy is not None and not isinstance(policy, (str, Mapping)):
        problems.append(f"{key} policy = {policy!r}: expected a policy document (a mapping) or its JSON text.")
    policy_arns = _string_list(entry.get("policyArns", []))
    if policy_arns is None:
        problems.append(f"{key} policyArns = {entry.get('policyArns')!r}: expected a list of managed policy ARNs.")
    transitive = _string_list(entry.get("transitiveTagKeys", []))
    if transitive is None:
        problems.append(f"{key} transitiveTagKeys = {entry.get('transitiveTagKeys')!r}: expected a list of tag keys.")
    tags = entry.get("tags", {})
    if not isinstance(tags, Mapping) or not all(isinstance(v, str) for v in tags.values()):
        problems.append(f"{key} tags = {tags!r}: expected a mapping of tag key to text (quote the values).")
    duration_value = entry.get("duration", entry.get("durationSeconds"))
    duration = None if duration_value is None else _duration_seconds(key, duration_value, problems)
    if len(problems) > before:
        return None
    return AssumeRole(
        role_arn=role_arn,
        session_name=session_name,
        external_id=external_id,
        duration_seconds=duration,
        policy=json.dumps(policy) if isinstance(policy, Mapping) else policy,
        policy_arns=policy_arns or (),
        tags={str(k): v for k, v in tags.items()},
        transitive_tag_keys=transitive or (),
    )


#: Keys whose values are lists, mappings or numbers (given as JSON by the engine); every other key is text.
_STRUCTURED_KEYS = frozenset(
    {
        "aws:assumeRoles",
        "aws:assumeRole",
        "aws-native:assumeRole",
        "aws:allowedAccountIds",
        "aws-native:allowedAccountIds",
        "aws:forbiddenAccountIds",
        "aws:maxRetries",
        "aws-native:maxRetries",
        "aws:defaultTags",
        "aws-native:defaultTags",
    }
)


def _agreeing(keys: tuple[str, str], values: Mapping[str, Any], problems: list[str]) -> Any:
    """The value of the first of two keys that must agree when both are set."""
    present = [(key, values[key]) for key in keys if key in values]
    if len(present) == 2 and present[0][1] != present[1][1]:
        problems.append(
            f"{keys[0]} = {present[0][1]!r} and {keys[1]} = {present[1][1]!r} disagree; both providers get one "
            f"value, so set only {keys[0]}."
        )
    return present[0][1] if present else None


def judge_provider_keys(
    raw_values: Mapping[str, str], *, account_id: str, region: str
) -> tuple[ProviderKeys, list[str]]:
    """Judge every ``aws:*`` and ``aws-native:*`` key in ``raw_values`` (full key → the engine's raw string).

    Returns what to pass on to the two providers, and every problem found (empty when all keys are fine).
    """
    values = {
        key: _json(raw) if key in _STRUCTURED_KEYS else raw
        for key, raw in raw_values.items()
        if key.partition(":")[0] in NAMESPACES and ":" in key
    }
    problems: list[str] = []
    for key in sorted(values):
        if key in REFUSED_KEYS:
            problems.append(f"{key} is set, but this program does not use it. {REFUSED_KEYS[key]}")
        elif key not in HONOURED_KEYS:
            honoured = ", ".join(HONOURED_KEYS)
            problems.append(
                f"{key} is set, but this program's explicit providers do not read it, so it would be ignored. "
                f"Remove it; the provider keys this program passes on or checks are: {honoured}."
            )

    for key in ("aws:region", "aws-native:region"):
        if key in values and not region:
            problems.append(
                f"{key} = {values[key]!r} is set but region is not: both providers use region. "
                f"Set region to {values[key]!r} and remove {key}."
            )
        elif key in values and values[key] != region:
            problems.append(
                f"{key} = {values[key]!r} disagrees with region = {region!r}; both providers use region. "
                f"Remove {key}, or set region to the region you mean."
            )
    for key in ("aws:allowedAccountIds", "aws-native:allowedAccountIds"):
        if key in values and account_id and values[key] != [account_id]:
            problems.append(
                f"{key} = {values[key]!r}: both providers are pinned to accountId ({account_id!r}) alone. "
                f"Remove {key}, or set it to [{account_id!r}]."
            )

    profile = _agreeing(("aws:profile", "aws-native:profile"), values, problems)
    if profile is not None and not profile.strip():
        profile_key = "aws:profile" if "aws:profile" in values else "aws-native:profile"
        problems.append(f"{profile_key} = {profile!r}: give the name of a profile in the AWS config files.")
        profile = None

    assume_role = None
    chain = values.get("aws:assumeRoles")
    if chain is not None and "aws:assumeRole" in values:
        problems.append("aws:assumeRoles and aws:assumeRole are both set; keep aws:assumeRoles.")
    if chain is None and "aws:assumeRole" in values:
        chain = [values["aws:assumeRole"]]
    if chain is not None:
        if not isinstance(chain, list) or not chain:
            problems.append(f"aws:assumeRoles = {chain!r}: expected a list with one entry that has roleArn.")
        elif len(chain) > 1:
            problems.append(
                f"aws:assumeRoles lists {len(chain)} roles; aws-native, which creates the data store, can assume "
                "only one. Chain the roles in a profile instead (role_arn with source_profile in ~/.aws/config) "
                "and set aws:profile to it."
            )
        else:
            assume_role = _assume_role("aws:assumeRoles[0]", chain[0], account_id, problems)
    if "aws-native:assumeRole" in values:
        native = _assume_role("aws-native:assumeRole", values["aws-native:assumeRole"], account_id, problems)
        if assume_role is None:
            assume_role = native
        elif native is not None and native != assume_role:
            problems.append("aws-native:assumeRole disagrees with aws:assumeRoles; both providers get one role.")

    native_role_arn = values.get("aws-native:roleArn")
    if native_role_arn is not None and (
        not isinstance(native_role_arn, str) or not _ROLE_ARN.fullmatch(native_role_arn)
    ):
        problems.append(
            f"aws-native:roleArn = {native_role_arn!r} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)."
        )
        native_role_arn = None
    elif native_role_arn is not None and account_id and native_role_arn.split(":")[4] != account_id:
        problems.append(
            f"aws-native:roleArn = {native_role_arn!r} is a role of account {native_role_arn.split(':')[4]}; "
            f"Cloud Control can only be passed a role of the account it acts in, accountId ({account_id!r})."
        )
        native_role_arn = None

    max_retries = _agreeing(("aws:maxRetries", "aws-native:maxRetries"), values, problems)
    if max_retries is not None and (
        isinstance(max_retries, bool) or not isinstance(max_retries, int) or not 0 <= max_retries <= 100
    ):
        problems.append(f"aws:maxRetries = {max_retries!r}: expected a whole number from 0 to 100.")
        max_retries = None

    forbidden = values.get("aws:forbiddenAccountIds", [])
    if not isinstance(forbidden, list) or not all(
        isinstance(a, str) and re.fullmatch(r"[0-9]{12}", a) for a in forbidden
    ):
        problems.append(f"aws:forbiddenAccountIds = {forbidden!r}: expected a list of quoted 12-digit account IDs.")
        forbidden = []
    elif account_id in forbidden:
        problems.append(
            f"aws:forbiddenAccountIds contains accountId ({account_id!r}): the stack could never deploy. "
            "Remove it from the list, or correct accountId."
        )

    keys = ProviderKeys(
        profile=profile if isinstance(profile, str) else None,
        assume_role=assume_role,
        native_role_arn=native_role_arn,
        max_retries=max_retries,
        forbidden_account_ids=tuple(forbidden),
    )
    return keys, problems
