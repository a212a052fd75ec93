"""The README and docs/ stay true to the code: the dev stack's resource diagram and the configuration tables."""

from __future__ import annotations

import re

import pytest

from ahictl import plan
from ahictl.mermaid import render_mermaid
from program.settings_spec import SETTINGS_SPEC
from testkit.mock_runs import PROJECT_DIR, documentation

README = (PROJECT_DIR / "README.md").read_text()
DOCS = documentation()


def test_the_review_diagram_is_the_dev_stacks_current_diagram() -> None:
    section = DOCS.split("### The diagram (dev stack)", 1)[1]
    match = re.search(r"```mermaid\n(.*?)```", section, re.DOTALL)
    assert match, "the documentation has no Mermaid block under 'The diagram (dev stack)'"
    generated = render_mermaid(plan.plan_stack(PROJECT_DIR, "dev"))
    assert match.group(1) == generated, "regenerate it: venv/bin/python -m ahictl plan --stack dev --format mermaid"


@pytest.mark.parametrize("key", [s.key for s in SETTINGS_SPEC])
def test_every_setting_is_documented_in_the_readme(key: str) -> None:
    assert f"`{key}`" in DOCS


def test_the_quick_start_commands_are_the_ones_ci_runs() -> None:
    assert "venv/bin/python -m ahictl plan --stack dev" in README
    assert "bash scripts/test" in README
    assert "bash scripts/test" in (PROJECT_DIR / ".ci" / "run").read_text()
