"""The diagrams as people see them: the Mermaid output of every example stack and the README's diagrams drawn by the
pinned Mermaid in headless Chromium, and the SVG picture of the optional extra.

Both need tools outside the Python environment (Chromium and ``npm ci`` in scripts/render; Graphviz and
requirements-diagrams.txt), which ``scripts/install_render_tools`` installs and CI runs. Where they are missing the
tests are skipped with the reason, except under ``CI=true``, where a missing tool is a failure.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from ahictl import architecture, cli, diagram_svg, mermaid
from ahictl import plan as plan_module
from scripts import render_mermaid
from testkit.mock_runs import EVERY_OPTIONAL_COMPONENT, PROJECT_DIR, documentation

# Mermaid draws in Chromium, and the pictures need Graphviz.
pytestmark = pytest.mark.browser

STACKS = plan_module.available_stacks(PROJECT_DIR)
IN_CI = os.environ.get("CI", "").lower() in ("true", "1", "yes")
SVG = "{http://www.w3.org/2000/svg}"


def _require(missing: list[str], what: str) -> None:
    if not missing:
        return
    reason = f"{what} needs {' and '.join(missing)}; bash scripts/install_render_tools installs them"
    if IN_CI:
        pytest.fail(f"CI must run this check: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> ModuleType:
    _require(render_mermaid.missing_tools(), "the browser render check")
    return render_mermaid


@pytest.fixture(scope="module")
def plans() -> dict[str, dict[str, Any]]:
    return {stack: plan_module.plan_stack(PROJECT_DIR, stack) for stack in STACKS}


# --- Mermaid in a real browser ---------------------------------------------------------------------------------


def test_example_stacks_and_readme_diagrams_render_in_the_browser(
    browser: ModuleType, plans: dict[str, dict[str, Any]]
) -> None:
    views = {stack: architecture.architecture(plan) for stack, plan in plans.items()}
    views |= {f"{stack}-overview": architecture.overview(view) for stack, view in views.items()}
    for stack in STACKS:
        full = architecture.architecture(plan_module.plan_stack(PROJECT_DIR, stack, EVERY_OPTIONAL_COMPONENT))
        views |= {f"{stack}-{d}": architecture.component_detail(full, d) for d in architecture.detail_names()}
    diagrams = [(f"{stack} architecture", mermaid.render_architecture(view)) for stack, view in views.items()]
    diagrams += [(f"{stack} resources", mermaid.render_mermaid(plan)) for stack, plan in plans.items()]
    readme_blocks = browser.mermaid_blocks(documentation())
    assert len(readme_blocks) >= 2, "the README has its overview and the resource graph"
    diagrams += [(f"README block {i}", block) for i, block in enumerate(readme_blocks, start=1)]

    results = browser.render(diagrams)

    assert [r.name for r in results] == [name for name, _ in diagrams]
    problems = {r.name: r.problem for r in results if r.problem}
    assert not problems, problems
    for result in results:
        if result.name.endswith(" architecture"):
            view = views[result.name.split()[0]]
            assert (result.nodes, result.edges, result.clusters) == (len(view.nodes), len(view.edges), len(view.groups))
            drawn_text = re.sub(r"\s+", " ", result.text)
            for node in view.nodes:
                assert node.title in drawn_text, f"{result.name}: {node.title!r} is not in the drawing"
            for group in view.groups:
                assert group.title in drawn_text, f"{result.name}: box {group.title!r} is not in the drawing"
            for edge in view.edges:
                assert edge.label in drawn_text
        if result.name.endswith(" resources"):
            plan = plans[result.name.split()[0]]
            custom = [r for r in plan["resources"] if r["custom"] and not r["type"].startswith("pulumi:providers:")]
            assert result.nodes == len(custom)


def test_the_render_check_fails_on_a_mermaid_error_and_on_an_empty_drawing(browser: ModuleType) -> None:
    results = browser.render(
        [
            ("broken", 'flowchart LR\n  a["unclosed label] --> b\n'),
            ("unknown arrow", "flowchart LR\n  a ==|x|=> b\n"),
            ("empty", "flowchart LR\n"),
            ("fine", 'flowchart LR\n  a["A"] --> b["B"]\n'),
        ]
    )
    problems = {r.name: r.problem for r in results}
    assert problems["broken"].startswith("Mermaid error: ")
    assert problems["unknown arrow"].startswith("Mermaid error: ")
    assert problems["empty"].startswith("empty drawing")
    assert problems["fine"] == ""
    fine = results[-1]
    assert (fine.nodes, fine.edges) == (2, 1)


def test_the_render_script_reports_each_diagram_and_fails_on_a_broken_one(browser: ModuleType, tmp_path: Path) -> None:
    good, bad = tmp_path / "good.mmd", tmp_path / "bad.mmd"
    good.write_text('flowchart LR\n  a["A"] --> b["B"]\n')
    bad.write_text("flowchart LR\n  a[[[ --> \n")
    ran = subprocess.run(
        [sys.executable, str(PROJECT_DIR / "scripts" / "render_mermaid.py"), str(good), str(bad)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 1, ran.stderr
    assert "good.mmd: ok (2 nodes, 1 edges" in ran.stdout
    assert "bad.mmd: FAIL Mermaid error:" in ran.stdout
    assert ran.stdout.rstrip().endswith("1 rendered, 1 failed")


# --- the SVG picture (optional extra) --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def picture_tools() -> None:
    _require(diagram_svg.missing_requirements(), "the SVG picture")


@pytest.mark.usefixtures("picture_tools")
@pytest.mark.parametrize("stack", STACKS)
def test_svg_is_well_formed_self_contained_and_names_every_component(
    stack: str, plans: dict[str, dict[str, Any]]
) -> None:
    plan = plans[stack]
    view = architecture.architecture(plan)
    svg = diagram_svg.render_picture(view, "svg")

    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    texts = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    for component in (r for r in plan["resources"] if not r["custom"]):
        type_name = component["type"].rsplit(":", 1)[-1]
        children = {r["urn"] for r in plan["resources"] if r["parentUrn"] == component["urn"]}
        # A component is a box with its name and type, or (one resource in another component) the node of that
        # resource, titled with the component's type.
        drawn_as_node = [
            n.title for n in view.nodes if children & set(n.resources) and n.title.endswith(f"({type_name})")
        ]
        assert f"{component['name']} ({type_name})" in texts or (drawn_as_node and drawn_as_node[0] in texts), (
            f"component {component['name']} ({type_name}) is not named in the picture"
        )
    for node in view.nodes:
        assert node.title in texts
    images = [i.get("{http://www.w3.org/1999/xlink}href") or i.get("href") for i in root.iter(f"{SVG}image")]
    assert len(images) == len(view.nodes)
    assert all(str(href).startswith("data:image/png;base64,") for href in images), "icons are embedded"


@pytest.mark.usefixtures("picture_tools")
def test_the_picture_from_the_command_line_is_the_overview(tmp_path: Path, plans: dict[str, dict[str, Any]]) -> None:
    out = tmp_path / "dev.svg"
    ran = subprocess.run(
        [sys.executable, "-m", "ahictl", "plan", "--stack", "dev", "--format", "svg", "--output", str(out)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stderr
    overview = architecture.overview(architecture.architecture(plans["dev"]))
    root = ET.fromstring(out.read_bytes())
    assert len(list(root.iter(f"{SVG}image"))) == len(overview.nodes), "one icon per node of the overview"
    texts = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert "Import job alerts" in texts
    assert "SNS topic" in texts, "the alerts' node lists what it holds"
    assert "ahi-dev-import-job-ended" not in texts, "the alerts' rule is not a node of its own"


@pytest.mark.usefixtures("picture_tools")
def test_svg_and_png_from_the_command_line(tmp_path: Path) -> None:
    for fmt, magic in (("svg", b"<?xml"), ("png", b"\x89PNG\r\n\x1a\n")):
        out = tmp_path / f"dev.{fmt}"
        ran = subprocess.run(
            [sys.executable, "-m", "ahictl", "plan", "--stack", "dev", "--format", fmt, "--output", str(out)],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert ran.returncode == 0, ran.stderr
        assert ran.stderr == f"wrote {fmt} diagram of stack 'dev' to {out}\n"
        assert out.read_bytes().startswith(magic)
    assert cli.main(["plan", "--stack", "dev", "--format", "svg", "--detail", "resources"]) == 2
