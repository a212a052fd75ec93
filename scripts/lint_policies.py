"""Lint every policy document of the exported plans with parliament.

Usage: ``python scripts/lint_policies.py --allow-list .parliament-allow.yaml POLICIES.json [...]``
where each POLICIES.json is ``python -m ahictl plan --format policies`` output. Each entry's
``lint_document`` is analysed (trust policies carry the role's ARN as ``Resource`` there, because
parliament needs one). Exits 1 on any finding that the allow list does not match, and on any allow
entry that matches nothing.

parliament's table of IAM actions is older than some HealthImaging actions (the DICOMweb ones). An
``UNKNOWN_ACTION`` finding is therefore checked against policy_sentry's newer offline IAM database:
an action that policy_sentry lists is reported and accepted, one that neither knows fails. Every
action without a wildcard in every policy must also exist in policy_sentry's database.
Runs in a virtualenv of its own (parliament, policy_sentry, PyYAML).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml
from parliament import analyze_policy_string
from policy_sentry.querying.actions import get_actions_for_service

_UNKNOWN_ACTION = re.compile(r"^Unknown action (?P<action>[\w-]+:[\w*]+)$")
_known_actions: dict[str, set[str]] = {}


def known_action(action: str) -> bool:
    """Whether policy_sentry's IAM database lists the action (case-insensitive, as IAM compares)."""
    service = action.split(":", 1)[0].lower()
    if service not in _known_actions:
        _known_actions[service] = {a.lower() for a in get_actions_for_service(service)}
    return action.lower() in _known_actions[service]


def actions_of(document: dict[str, Any]) -> list[str]:
    """Every action named in ``Action`` of every statement."""
    statements = document.get("Statement", [])
    found: list[str] = []
    for statement in [statements] if isinstance(statements, dict) else statements:
        actions = statement.get("Action", [])
        found += [actions] if isinstance(actions, str) else list(actions)
    return found


def load_allow_list(path: Path) -> list[dict[str, str]]:
    """The allow entries; each must name an issue, a resource type and a reason."""
    entries = (yaml.safe_load(path.read_text()) or {}).get("allow") or []
    for entry in entries:
        missing = [key for key in ("issue", "type", "reason") if not str(entry.get(key, "")).strip()]
        if missing:
            raise SystemExit(f"{path}: entry {entry} lacks {', '.join(missing)}")
    return list(entries)


def findings_of(policy: dict[str, Any]) -> list[tuple[str, str]]:
    """(issue, detail) of every parliament finding for one exported policy (default auditors)."""
    analysed = analyze_policy_string(json.dumps(policy["lint_document"]))
    return [(finding.issue, str(finding.detail)) for finding in analysed.findings]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--allow-list", type=Path, required=True)
    parser.add_argument("policies", type=Path, nargs="+")
    args = parser.parse_args(argv)
    allow = load_allow_list(args.allow_list)
    used = [False] * len(allow)
    problems: list[str] = []
    for path in args.policies:
        policies = json.loads(path.read_text())
        if not policies:
            problems.append(f"{path}: no policy documents; was the plan exported?")
        counts = {"identity": 0, "trust": 0, "resource": 0}
        for policy in policies:
            counts[policy["kind"]] = counts.get(policy["kind"], 0) + 1
            unexplained: dict[tuple[str, str], int] = {}
            allowed = 0
            for action in actions_of(policy["document"]):
                if "*" not in action and not known_action(action):
                    problems.append(
                        f"{path}: {policy['resource']}: action {action} is not in policy_sentry's IAM database"
                    )
            newer = []
            for issue, detail in findings_of(policy):
                unknown = _UNKNOWN_ACTION.match(detail) if issue == "UNKNOWN_ACTION" else None
                if unknown and known_action(unknown["action"]):
                    newer.append(unknown["action"])
                    continue
                matches = [
                    i
                    for i, entry in enumerate(allow)
                    if entry["issue"] == issue
                    and entry["type"] == policy["type"]
                    and re.search(entry.get("detail") or "", detail)
                ]
                for i in matches:
                    used[i] = True
                if matches:
                    allowed += 1
                else:
                    unexplained[(issue, detail)] = unexplained.get((issue, detail), 0) + 1
            label = f"{policy['resource']} {policy['input']} ({policy['kind']})"
            print(f"  {path.name}: {label}: {len(unexplained)} finding(s), {allowed} allowed")
            if newer:
                print(f"    unknown to parliament, listed by policy_sentry: {', '.join(sorted(newer))}")
            for (issue, detail), count in sorted(unexplained.items()):
                problems.append(f"{path}: {label}: {issue} {detail} (x{count})")
        print(f"{path}: {len(policies)} policies ({', '.join(f'{v} {k}' for k, v in sorted(counts.items()))})")
    for entry, was_used in zip(allow, used, strict=True):
        if not was_used:
            problems.append(f"{args.allow_list}: entry {entry['issue']} on {entry['type']} matches nothing; remove it")
    if problems:
        print("parliament: FAILED", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print("parliament: passed (no findings outside the allow list)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
