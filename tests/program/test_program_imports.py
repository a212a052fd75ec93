"""Evaluating the Pulumi program imports only what it uses: not the AWS SDK (boto3, botocore, s3transfer) and not
the operational library's modules that make AWS clients, which only the functions and the commands on a deployed
stack call. Run in a fresh interpreter, so that nothing another test imported counts."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest

from components._source import parse_source
from components.function_constants import import_alerts_reported, literal_constants
from testkit.mock_runs import EVERY_OPTIONAL_COMPONENT, PROJECT_DIR

#: The AWS SDK for Python and its transfer manager.
AWS_SDK = frozenset({"boto3", "botocore", "s3transfer"})
#: Every feature on, so that every component's modules are imported.
EVERY_FEATURE = EVERY_OPTIONAL_COMPONENT

_EVALUATE = """
import json, sys
from pathlib import Path
from ahictl import plan
before = sorted(sys.modules)
plan.plan_stack(Path(sys.argv[1]), "dev", json.loads(sys.argv[2]))
print(json.dumps({"before": before, "after": sorted(sys.modules)}))
"""


def modules_with_aws_clients() -> set[str]:
    """The ``ahiops`` modules whose source imports the AWS SDK."""
    found: set[str] = set()
    for path in sorted((PROJECT_DIR / "ahiops").glob("*.py")):
        imported: set[str] = set()
        for node in ast.walk(parse_source(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])
        if imported & AWS_SDK:
            found.add("ahiops" if path.stem == "__init__" else f"ahiops.{path.stem}")
    return found


def _top_level(module: str) -> str:
    return module.split(".")[0]


def test_evaluating_the_program_imports_no_aws_sdk_and_no_aws_client_module() -> None:
    with_clients = modules_with_aws_clients()
    assert "ahiops.session" in with_clients, "the scan finds the modules that make AWS clients"
    ran = subprocess.run(
        [sys.executable, "-c", _EVALUATE, str(PROJECT_DIR), json.dumps(EVERY_FEATURE)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stderr
    modules = json.loads(ran.stdout.splitlines()[-1])
    before, after = set(modules["before"]), set(modules["after"])
    assert "components.auto_import" in after - before, "the program and every component were evaluated"
    assert not {m for m in before if _top_level(m) in AWS_SDK} | (before & with_clients), (
        "the plan harness itself imports the AWS SDK, so this check would see nothing"
    )
    imported = sorted({_top_level(m) for m in after if _top_level(m) in AWS_SDK} | (after & with_clients))
    assert imported == [], f"evaluating the program imported {imported}"


# --- the names the components read from a function's source ----------------------------------------------------


def test_the_table_names_read_from_source_are_the_functions_own() -> None:
    from healthimaging_functions.import_alerts import reported

    assert (import_alerts_reported.KEY, import_alerts_reported.TTL_ATTRIBUTE) == (reported.KEY, reported.TTL_ATTRIBUTE)


def test_only_literal_assignments_are_read() -> None:
    constants = vars(literal_constants("healthimaging_functions.import_alerts.reported"))
    assert constants["ALERTED"] == "alerted"
    assert "ReportedJobs" not in constants, "a class is not a literal"
    assert "dt" not in constants, "an import is not a literal"


def test_a_missing_module_is_named() -> None:
    with pytest.raises(ModuleNotFoundError, match=r"no module named 'healthimaging_functions\.no_such_module'"):
        literal_constants("healthimaging_functions.no_such_module")
