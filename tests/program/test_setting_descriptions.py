"""A description that shows a limit, a list or a generated name which lives in code builds it from that code (an
f-string on the constant or function), so the generated Pulumi.yaml and tables follow the code: the description's
literal text, read from program/settings_spec.py's source, must not hold a copy of it."""

from __future__ import annotations

import ast

import pytest

from ahiops import batches, limits
from components import (
    access,
    access_policies,
    audit_trail,
    auto_import,
    bucket_pair,
    datastore,
    import_alerts,
    policies,
)
from components._source import parse_source
from program.settings_spec import SPEC_BY_KEY
from testkit.mock_runs import PROJECT_DIR

SPEC_SOURCE = PROJECT_DIR / "program" / "settings_spec.py"


def quoted(value: str) -> str:
    return f"'{value}'"


#: Key, and the texts its description shows that come from code.
FROM_CODE: list[tuple[str, list[str]]] = [
    ("region", [", ".join(limits.HEALTHIMAGING_REGIONS)]),
    (
        "bucketNaming",
        [
            quoted(bucket_pair.NAMING_ACCOUNT_REGIONAL),
            quoted(bucket_pair.NAMING_GENERATED),
            bucket_pair.generated_bucket_name("<prefix>", "input", "<account>", "<region>"),
        ],
    ),
    ("bucketEncryption", [quoted(bucket_pair.ENCRYPTION_KMS), quoted(bucket_pair.ENCRYPTION_SSE_S3)]),
    ("requireTls", [f"older than {policies.MINIMUM_TLS_VERSION}"]),
    (
        "datastoreEncryption",
        [quoted(datastore.ENCRYPTION_CUSTOMER_MANAGED_KEY), quoted(datastore.ENCRYPTION_AWS_OWNED_KEY)],
    ),
    ("accessPersonas", [", ".join(access_policies.DEFAULT_PERSONAS), access_policies.PERSONA_BREAK_GLASS]),
    ("accessGroups", [access.resource_name("<accessNamePrefix>", "<persona>")]),
    ("accessRolePrincipals", [access.resource_name("<accessNamePrefix>", "<persona>")]),
    ("accessSessionHours", [f"1 to {access.MAX_SESSION_HOURS} hours"]),
    (
        "importAlertSweepLookbackHours",
        [
            f"at most {import_alerts.MAX_SWEEP_LOOKBACK_HOURS}",
            f"for {import_alerts.MAX_SWEEP_LOOKBACK_HOURS // 24} days",
        ],
    ),
    ("auditLogRetentionDays", [f"{audit_trail.HIPAA_RETENTION_DAYS}: six years"]),
    ("autoImport", [f"{batches.INCOMING_PREFIX}<batch>/"]),
    ("autoImportMarkerName", [f"{batches.INCOMING_PREFIX}<batch>/<name>"]),
    (
        "autoImportQuietPeriodMinutes",
        [f"{batches.INCOMING_PREFIX}<batch>/", f"1 to {auto_import.MAX_QUIET_PERIOD_MINUTES}"],
    ),
    ("autoImportMaxFilesPerJob", [f"quota ({limits.MAX_FILES_PER_JOB})"]),
    (
        "autoImportMaxConcurrentJobs",
        [
            f"({limits.DEFAULT_MAX_CONCURRENT_JOBS}; "
            + "; ".join(f"{jobs} in {region}" for region, jobs in limits.MAX_CONCURRENT_JOBS_BY_REGION.items())
            + ")"
        ],
    ),
    ("autoImportConcurrency", [f"2 to {auto_import.MAX_CONCURRENCY}"]),
]


def literal_text(node: ast.expr) -> str:
    """The text a description spells out in the source: its string literals, without what f-strings compute."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "\x00".join(literal_text(part) for part in node.values if isinstance(part, ast.Constant))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return literal_text(node.left) + "\x00" + literal_text(node.right)
    return "\x00"  # a computed part


def literal_descriptions() -> dict[str, str]:
    """Each key's description as the source spells it (the fourth argument of ``Setting(...)``)."""
    found: dict[str, str] = {}
    for node in ast.walk(parse_source(SPEC_SOURCE.read_text(), str(SPEC_SOURCE))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Setting":
            key = node.args[0]
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                found[key.value] = literal_text(node.args[3])
    return found


def test_the_source_reader_sees_every_key() -> None:
    assert set(literal_descriptions()) == set(SPEC_BY_KEY)


def test_a_literal_copy_is_found() -> None:
    assert "2192: six years" in literal_text(ast.parse('"Kept; 2192: six years."', mode="eval").body)
    assert "2192" not in literal_text(ast.parse('f"Kept; {DAYS}: six years."', mode="eval").body)


@pytest.mark.parametrize(("key", "texts"), FROM_CODE, ids=[key for key, _ in FROM_CODE])
def test_a_description_shows_what_lives_in_code(key: str, texts: list[str]) -> None:
    for text in texts:
        assert text in SPEC_BY_KEY[key].description, f"{key}: {text!r}"


@pytest.mark.parametrize(("key", "texts"), FROM_CODE, ids=[key for key, _ in FROM_CODE])
def test_a_description_builds_what_lives_in_code_from_the_code(key: str, texts: list[str]) -> None:
    literal = literal_descriptions()[key]
    copied = [text for text in texts if text in literal]
    assert not copied, f"{key}'s description spells out {copied} in program/settings_spec.py: build it from the code"
