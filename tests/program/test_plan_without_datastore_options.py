"""Without the data store's creation-time options nothing changes: the example stacks plan exactly the resources they
planned before those options existed (the same aws-native data store with the same inputs and options), so upgrading
never replaces a deployed data store.

The snapshots in tests/snapshots/plans/ are the planned resources of Pulumi.dev.yaml and Pulumi.prod.yaml taken before
the options were added. When a change is MEANT to alter the stacks' resources, regenerate them deliberately:
``python -m ahictl plan --stack dev --format json`` and keep its ``resources`` list (``json.dumps(indent=1,
sort_keys=True)``), and say in the change why the data store is untouched.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from testkit.mock_runs import PROJECT_DIR

SNAPSHOTS = PROJECT_DIR / "tests" / "snapshots" / "plans"


def planned_resources(stack: str, *settings: str) -> str:
    sets = [arg for setting in settings for arg in ("--set", setting)]
    result = subprocess.run(
        [sys.executable, "-m", "ahictl", "plan", "--stack", stack, "--format", "json", *sets],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.dumps(json.loads(result.stdout)["resources"], indent=1, sort_keys=True) + "\n"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_example_stacks_plan_the_same_resources_as_before_the_options(stack: str) -> None:
    assert planned_resources(stack) == (SNAPSHOTS / f"{stack}-resources.json").read_text()


def test_the_snapshot_check_sees_an_option() -> None:
    # The comparison can fail: a lossless format other than the default changes how the data store is created.
    with_option = planned_resources("dev", "datastoreLosslessStorageFormat=JPEG_2000_LOSSLESS")
    assert with_option != (SNAPSHOTS / "dev-resources.json").read_text()
    assert "aws:lambda/invocation:Invocation" in with_option
