"""A small IAM policy evaluator: enough of AWS's evaluation logic to judge this project's policies offline.

Supported: Allow/Deny; Action/NotAction and Resource/NotResource with ``*`` and ``?`` wildcards (actions
case-insensitive); Principal for resource-based policies (trust policies, bucket policies); condition operators
String(Not)Equals(IgnoreCase), String(Not)Like, Arn(Not)Equals, Arn(Not)Like, Bool, Null, Numeric*, each with
``IfExists`` and the ``ForAllValues:``/``ForAnyValue:`` set prefixes; absent keys as AWS treats them (a positive
operator is false, a negated one true, ``IfExists`` true, ``ForAllValues`` true); policy variables ``${key}``.
An explicit Deny wins over any Allow; without an Allow the decision is implicitDeny.

Not supported (raises :class:`UnsupportedPolicyError`, never a silent allow): other condition operators
(Date*, IpAddress, Binary), SCPs, session policies, cross-account evaluation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

ALLOWED = "allowed"
EXPLICIT_DENY = "explicitDeny"
IMPLICIT_DENY = "implicitDeny"


class UnsupportedPolicyError(ValueError):
    """The policy uses something this evaluator does not implement."""


@dataclass(frozen=True)
class PolicySource:
    """One policy document and where it came from (for MatchedStatements)."""

    policy_id: str  # inline policy name, or managed policy ARN
    policy_type: str  # IAM's PolicySourceType: user, group, role, aws-managed, user-managed, resource, none
    document: Mapping[str, Any]

    @staticmethod
    def parse(policy_id: str, policy_type: str, document: str | Mapping[str, Any]) -> PolicySource:
        return PolicySource(policy_id, policy_type, json.loads(document) if isinstance(document, str) else document)


@dataclass(frozen=True)
class MatchedStatement:
    source: PolicySource
    index: int  # position of the statement in the policy's Statement list
    statement: Mapping[str, Any]


@dataclass
class Decision:
    decision: str
    matched: list[MatchedStatement] = field(default_factory=list)
    missing_context: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Request:
    """What is being decided: ``action`` on ``resource`` by ``principal`` with ``context`` (key -> values)."""

    action: str
    resource: str
    context: Mapping[str, Sequence[str]] = field(default_factory=dict)
    #: For resource-based policies: {"AWS": arn} or {"Service": "x.amazonaws.com"}.
    principal: Mapping[str, str] = field(default_factory=dict)

    def value(self, key: str) -> list[str] | None:
        lowered = key.lower()
        for name, values in self.context.items():
            if name.lower() == lowered:
                return [str(v) for v in values]
        return None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [s for s in _as_list(document.get("Statement")) if isinstance(s, Mapping)]


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's ``*``/``?`` wildcards (nothing else is special)."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL | (re.IGNORECASE if ignore_case else 0)) is not None


def arn_match(pattern: str, value: str) -> bool:
    """ArnLike/ArnEquals: the six ARN parts compared one by one, each with wildcards."""
    pattern_parts, value_parts = pattern.split(":", 5), value.split(":", 5)
    if len(pattern_parts) != 6 or len(value_parts) != 6:
        return False
    return all(wildcard_match(p, v) for p, v in zip(pattern_parts, value_parts, strict=True))


_VARIABLE = re.compile(r"\$\{([^}]+)\}")


def substitute(text: str, request: Request) -> str:
    """Policy variables: ``${aws:username}`` from the context (absent: left in place, so it matches nothing)."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in ("*", "?", "$"):
            return name
        values = request.value(name)
        return values[0] if values else match.group(0)

    return _VARIABLE.sub(replace, text)


def _principal_matches(principal: Any, request: Request) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    for kind, caller in request.principal.items():
        for allowed in _as_list(principal.get(kind)):
            if allowed == "*" or allowed == caller:
                return True
            if kind == "AWS":
                account = caller.split(":")[4] if caller.count(":") >= 5 else ""
                if allowed in (account, f"arn:aws:iam::{account}:root"):
                    return True
    return False


def _value_matches(base: str, policy_value: str, context_value: str) -> bool:
    if base in ("StringEquals", "StringNotEquals"):
        return policy_value == context_value
    if base in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        return policy_value.lower() == context_value.lower()
    if base in ("StringLike", "StringNotLike"):
        return wildcard_match(policy_value, context_value)
    if base in ("ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"):
        return arn_match(policy_value, context_value)
    if base == "Bool":
        return policy_value.lower() == context_value.lower()
    if base.startswith("Numeric"):
        try:
            left, right = float(context_value), float(policy_value)
        except ValueError:
            return False
        comparisons = {
            "NumericEquals": left == right,
            "NumericNotEquals": left == right,  # negated below
            "NumericLessThan": left < right,
            "NumericLessThanEquals": left <= right,
            "NumericGreaterThan": left > right,
            "NumericGreaterThanEquals": left >= right,
        }
        return comparisons[base]
    raise UnsupportedPolicyError(f"condition operator {base} is not supported by the policy evaluator")


_NEGATED = {
    "StringNotEquals",
    "StringNotEqualsIgnoreCase",
    "StringNotLike",
    "ArnNotEquals",
    "ArnNotLike",
    "NumericNotEquals",
}
_KNOWN = _NEGATED | {
    "StringEquals",
    "StringEqualsIgnoreCase",
    "StringLike",
    "ArnEquals",
    "ArnLike",
    "Bool",
    "Null",
    "NumericEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
}


def condition_holds(operator: str, key: str, policy_values: Iterable[Any], request: Request) -> bool:
    """One ``{operator: {key: values}}`` entry against the request's context."""
    set_operator = ""
    base = operator
    if ":" in base:
        set_operator, base = base.split(":", 1)
        if set_operator not in ("ForAllValues", "ForAnyValue"):
            raise UnsupportedPolicyError(f"condition set operator {set_operator} is not supported")
    if_exists = base.endswith("IfExists")
    if if_exists:
        base = base[: -len("IfExists")]
    if base not in _KNOWN:
        raise UnsupportedPolicyError(f"condition operator {operator} is not supported by the policy evaluator")
    wanted = [substitute(str(v).lower() if isinstance(v, bool) else str(v), request) for v in _as_list(policy_values)]
    values = request.value(key)
    if base == "Null":
        absent = values is None or values == []
        return any((w.lower() == "true") == absent for w in wanted)
    negated = base in _NEGATED

    def one(value: str) -> bool:
        hit = any(_value_matches(base, w, value) for w in wanted)
        return not hit if negated else hit

    if set_operator == "ForAllValues":
        return all(one(v) for v in values or [])
    if set_operator == "ForAnyValue":
        return any(one(v) for v in values or [])
    if values is None:
        return if_exists or negated
    if negated:
        return all(one(v) for v in values)
    return any(one(v) for v in values)


def _condition_keys(statement: Mapping[str, Any]) -> set[str]:
    keys: set[str] = set()
    for entries in (statement.get("Condition") or {}).values():
        if isinstance(entries, Mapping):
            keys |= set(entries)
    return keys


def _applies(statement: Mapping[str, Any], request: Request, *, resource_policy: bool) -> bool:
    """Whether the statement's principal, action and resource cover the request (conditions aside)."""
    if resource_policy:
        if "Principal" in statement:
            if not _principal_matches(statement["Principal"], request):
                return False
        elif "NotPrincipal" in statement:
            if _principal_matches(statement["NotPrincipal"], request):
                return False
        else:
            return False
    if "Action" in statement:
        if not any(wildcard_match(a, request.action, ignore_case=True) for a in _as_list(statement["Action"])):
            return False
    elif "NotAction" in statement:
        if any(wildcard_match(a, request.action, ignore_case=True) for a in _as_list(statement["NotAction"])):
            return False
    else:
        return False
    if "Resource" in statement:
        patterns = [substitute(str(r), request) for r in _as_list(statement["Resource"])]
        if not any(wildcard_match(r, request.resource) for r in patterns):
            return False
    elif "NotResource" in statement:
        patterns = [substitute(str(r), request) for r in _as_list(statement["NotResource"])]
        if any(wildcard_match(r, request.resource) for r in patterns):
            return False
    elif not resource_policy:
        return False  # identity policies need a Resource element
    return True


def evaluate(
    sources: Sequence[PolicySource],
    request: Request,
    *,
    resource_policies: Sequence[PolicySource] = (),
    boundaries: Sequence[PolicySource] = (),
) -> Decision:
    """The decision for ``request`` under identity policies ``sources``, resource policies and boundaries."""
    allows: list[MatchedStatement] = []
    denies: list[MatchedStatement] = []
    missing: set[str] = set()
    for group, is_resource in ((sources, False), (resource_policies, True)):
        for source in group:
            for index, statement in enumerate(_statements(source.document)):
                if not _applies(statement, request, resource_policy=is_resource):
                    continue
                missing |= {key for key in _condition_keys(statement) if request.value(key) is None}
                conditions = statement.get("Condition") or {}
                if all(
                    condition_holds(operator, key, values, request)
                    for operator, entries in conditions.items()
                    for key, values in entries.items()
                ):
                    matched = MatchedStatement(source, index, statement)
                    (denies if statement.get("Effect") == "Deny" else allows).append(matched)
    if boundaries:
        boundary = evaluate(boundaries, request)
        if boundary.decision == EXPLICIT_DENY:
            return Decision(EXPLICIT_DENY, boundary.matched, missing | boundary.missing_context)
        if boundary.decision != ALLOWED:
            # Outside the boundary: no identity-policy allow counts (resource-policy allows aside, ignored here).
            allows = [m for m in allows if m.source in resource_policies]
    if denies:
        return Decision(EXPLICIT_DENY, denies, missing)
    if allows:
        return Decision(ALLOWED, allows, missing)
    return Decision(IMPLICIT_DENY, [], missing)
