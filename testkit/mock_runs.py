"""Helpers for the tests: run the real program, or a single component, under Pulumi's mocks."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ahictl import mockrun, plan
from ahictl.repository import REPOSITORY_ROOT
from program.component_args import OPTIONAL_COMPONENT_KEYS

#: Every optional component switched on (stack keys in the engine's string form).
EVERY_OPTIONAL_COMPONENT = {key: "true" for key in OPTIONAL_COMPONENT_KEYS.values()}
#: The repository: ``Pulumi.yaml``, the stack files and ``__main__.py``.
PROJECT_DIR = REPOSITORY_ROOT
PROJECT = "healthimaging-setup"
#: The dev stack's account and region (Pulumi.dev.yaml).
DEV_ACCOUNT = "111122223333"
DEV_REGION = "us-east-1"


def dev_config(**overrides: Any) -> dict[str, str]:
    """Pulumi.dev.yaml's configuration as the engine passes it, with project keys overridden.

    Overrides use the project's key names (``bucketEncryption="sse-s3"``); ``None`` removes a key.
    """
    values = dict(plan.stack_config(PROJECT_DIR, "dev").values)
    for key, value in overrides.items():
        full_key = f"{PROJECT}:{key}"
        if value is None:
            values.pop(full_key, None)
        elif isinstance(value, bool):
            values[full_key] = "true" if value else "false"
        elif isinstance(value, (dict, list)):
            values[full_key] = json.dumps(value)
        else:
            values[full_key] = str(value)
    return values


def run_program(stack: str = "dev", **overrides: Any) -> mockrun.ProgramRun:
    """Run ``__main__.py`` under mocks with the dev stack's configuration plus ``overrides``."""
    config = dev_config(**overrides)
    account = config.get(f"{PROJECT}:accountId", DEV_ACCOUNT)
    region = config.get(f"{PROJECT}:region", DEV_REGION)
    return mockrun.run(
        PROJECT_DIR / "__main__.py", config=config, project=PROJECT, stack=stack, account_id=account, region=region
    )


def run_component(
    build: Callable[[], None], *, account_id: str = DEV_ACCOUNT, region: str = DEV_REGION
) -> mockrun.ProgramRun:
    """Run a function that declares resources (a component on its own) under mocks."""
    return mockrun.run(build, project=PROJECT, stack="test", account_id=account_id, region=region)


def policy_of(resource: mockrun.PlannedResource, key: str = "policy") -> dict[str, Any]:
    """A policy input of a recorded resource, parsed from its JSON string."""
    value = resource.inputs[key]
    return json.loads(value) if isinstance(value, str) else value


def documentation() -> str:
    """The README and every page under docs/, in that order: where the project documents itself."""
    pages = [PROJECT_DIR / "README.md", *sorted((PROJECT_DIR / "docs").glob("*.md"))]
    return "\n\n".join(page.read_text() for page in pages)
