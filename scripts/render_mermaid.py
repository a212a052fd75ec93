"""Render Mermaid diagrams as a reader's browser does: the pinned Mermaid (scripts/render/) in headless Chromium.

    venv/bin/python scripts/render_mermaid.py README.md plan-out/dev.mmd [--screenshot DIR]

Each ``.mmd`` file is one diagram; each ```` ```mermaid ```` block of a Markdown file is one. A diagram fails on a
Mermaid error (syntax, unknown node shape, ...) or when it draws nothing (no node, or an empty box). Exit 0 when
every diagram renders, 1 when any fails, 2 when Chromium or Mermaid is missing (``npm ci`` in scripts/render,
``apt-get install chromium``). ``--screenshot DIR`` also writes a PNG of each diagram.

Chromium runs with a fresh profile, no network of its own and a bounded time; the page loads Mermaid from
``scripts/render/node_modules`` over ``file://`` and writes its findings (JSON) into the page, which Chromium's
``--dump-dom`` prints.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

RENDER_DIR = Path(__file__).resolve().parent / "render"
MERMAID_SCRIPT = RENDER_DIR / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"
#: Chromium from Debian's package; CHROMIUM names another binary.
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--disable-extensions",
)
TIMEOUT_SECONDS = 180
_BLOCK = re.compile(r"^```mermaid\n(.*?)^```", re.DOTALL | re.MULTILINE)
_RESULT = re.compile(r'<pre id="result">(.*?)</pre>', re.DOTALL)

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>render</title>
<style>body {{ margin: 0; background: white; }} #out svg {{ display: block; }}</style></head>
<body>
<div id="out"></div>
<pre id="result">pending</pre>
<script src="{script}"></script>
<script id="diagrams" type="application/json">{diagrams}</script>
<script>
(async () => {{
  const out = document.getElementById("result");
  const results = [];
  try {{
    const diagrams = JSON.parse(document.getElementById("diagrams").textContent);
    mermaid.initialize({{ startOnLoad: false, securityLevel: "strict" }});
    for (const [index, diagram] of diagrams.entries()) {{
      const result = {{ name: diagram.name, ok: false }};
      try {{
        await mermaid.parse(diagram.text);
        const {{ svg }} = await mermaid.render("diagram" + index, diagram.text);
        const holder = document.createElement("div");
        holder.innerHTML = svg;
        document.getElementById("out").appendChild(holder);
        const element = holder.querySelector("svg");
        const box = element.getBBox();
        result.width = box.width;
        result.height = box.height;
        result.nodes = element.querySelectorAll("g.node").length;
        result.edges = element.querySelectorAll("g.edgePaths > path, path.flowchart-link").length;
        result.clusters = element.querySelectorAll("g.cluster").length;
        result.text = element.textContent;
        result.errors = element.querySelectorAll(".error-icon, .error-text").length;
        result.ok = true;
      }} catch (error) {{
        result.error = String(error && error.message ? error.message : error);
      }}
      results.push(result);
    }}
  }} catch (error) {{
    results.push({{ name: "(page)", ok: false, error: String(error) }});
  }}
  out.textContent = JSON.stringify(results);
}})();
</script>
</body></html>
"""


@dataclass(frozen=True)
class Rendered:
    """What the browser drew for one diagram."""

    name: str
    ok: bool
    error: str = ""
    nodes: int = 0
    edges: int = 0
    clusters: int = 0
    width: float = 0.0
    height: float = 0.0
    text: str = ""

    @property
    def problem(self) -> str:
        """Why the diagram does not count as drawn ('' when it does)."""
        if not self.ok:
            return f"Mermaid error: {self.error}"
        if self.nodes == 0 or self.width < 1 or self.height < 1:
            return f"empty drawing ({self.nodes} nodes, {self.width:.0f}x{self.height:.0f} px)"
        return ""


class RenderToolsMissingError(RuntimeError):
    """Chromium or the pinned Mermaid is not installed; the message says how to install it."""


def find_chromium() -> str | None:
    configured = os.environ.get("CHROMIUM")
    if configured:
        return shutil.which(configured) or (configured if Path(configured).is_file() else None)
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def missing_tools() -> list[str]:
    """What the render check needs and does not find, each with how to install it."""
    missing = []
    if find_chromium() is None:
        missing.append("Chromium (apt-get install chromium, or set CHROMIUM)")
    if not MERMAID_SCRIPT.is_file():
        missing.append(f"Mermaid (npm ci --prefix {RENDER_DIR})")
    return missing


def mermaid_blocks(markdown: str) -> list[str]:
    """The text of every ```mermaid block of a Markdown document."""
    return [match.group(1) for match in _BLOCK.finditer(markdown)]


def _page(diagrams: list[tuple[str, str]]) -> str:
    payload = json.dumps([{"name": name, "text": text} for name, text in diagrams]).replace("</", "<\\/")
    return _PAGE.format(script=MERMAID_SCRIPT.as_uri(), diagrams=payload)


def _chromium(arguments: list[str], work_dir: Path) -> subprocess.CompletedProcess[str]:
    chromium = find_chromium()
    if chromium is None or not MERMAID_SCRIPT.is_file():
        raise RenderToolsMissingError("the render check needs " + " and ".join(missing_tools()))
    profile = work_dir / "profile"
    profile.mkdir(exist_ok=True)
    command = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *arguments]
    return subprocess.run(  # noqa: S603 - a fixed browser binary with fixed flags
        command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False, cwd=work_dir
    )


def render(diagrams: list[tuple[str, str]]) -> list[Rendered]:
    """Render ``(name, mermaid text)`` pairs in one browser run; one :class:`Rendered` each, in order."""
    with tempfile.TemporaryDirectory(prefix="render-mermaid-") as temp:
        work_dir = Path(temp)
        page = work_dir / "page.html"
        page.write_text(_page(diagrams), encoding="utf-8")
        completed = _chromium(["--virtual-time-budget=60000", "--dump-dom", page.as_uri()], work_dir)
    match = _RESULT.search(completed.stdout)
    if completed.returncode != 0 or match is None:
        raise RuntimeError(
            f"Chromium exited {completed.returncode} without the page's result; stderr: {completed.stderr[-2000:]}"
        )
    found = html.unescape(match.group(1))
    if found == "pending":
        raise RuntimeError("the page did not finish rendering within Chromium's time budget")
    results = []
    for item in json.loads(found):
        fields = {k: v for k, v in item.items() if k in Rendered.__dataclass_fields__}
        if item.get("errors"):  # Mermaid drew its error picture instead of the diagram
            fields.update(ok=False, error=f"the drawing shows {item['errors']} Mermaid error mark(s)")
        results.append(Rendered(**fields))
    return results


def screenshot(text: str, png: Path, *, width: int = 1600, height: int = 1200) -> None:
    """A PNG of one diagram as the browser draws it (for looking at it)."""
    with tempfile.TemporaryDirectory(prefix="render-mermaid-") as temp:
        work_dir = Path(temp)
        page = work_dir / "page.html"
        page.write_text(_page([("diagram", text)]).replace('<pre id="result">', '<pre id="result" hidden>'))
        completed = _chromium(
            [
                f"--window-size={width},{height}",
                "--virtual-time-budget=60000",
                "--hide-scrollbars",
                f"--screenshot={png.resolve()}",
                page.as_uri(),
            ],
            work_dir,
        )
    if completed.returncode != 0 or not png.is_file():
        raise RuntimeError(f"Chromium exited {completed.returncode}; stderr: {completed.stderr[-2000:]}")


def diagrams_of(path: Path) -> list[tuple[str, str]]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".md":
        return [(f"{path.name} block {i}", block) for i, block in enumerate(mermaid_blocks(text), start=1)]
    return [(path.name, text)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("files", nargs="+", type=Path, help=".mmd files (one diagram each) or Markdown files")
    parser.add_argument("--screenshot", type=Path, metavar="DIR", help="also write a PNG of each diagram here")
    args = parser.parse_args(argv)
    diagrams = [d for path in args.files for d in diagrams_of(path)]
    if not diagrams:
        print("error: no Mermaid diagram in " + ", ".join(map(str, args.files)), file=sys.stderr)
        return 1
    try:
        results = render(diagrams)
    except RenderToolsMissingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    failed = 0
    for result in results:
        problem = result.problem
        failed += bool(problem)
        status = f"FAIL {problem}" if problem else "ok"
        print(
            f"{result.name}: {status} ({result.nodes} nodes, {result.edges} edges, {result.clusters} boxes, "
            f"{result.width:.0f}x{result.height:.0f} px)"
        )
    if args.screenshot:
        args.screenshot.mkdir(parents=True, exist_ok=True)
        for index, (name, text) in enumerate(diagrams, start=1):
            png = args.screenshot / f"{index:02d}-{re.sub(r'[^A-Za-z0-9]+', '-', name).strip('-')}.png"
            screenshot(text, png)
            print(f"wrote {png}")
    print(f"{len(results) - failed} rendered, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
