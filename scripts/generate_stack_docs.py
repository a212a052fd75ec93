"""Write the stack keys' declarations and tables from their one description, ``SETTINGS_SPEC``.

Usage::

    venv/bin/python scripts/generate_stack_docs.py            # rewrite the generated regions
    venv/bin/python scripts/generate_stack_docs.py --check    # exit 1, naming the files, unless they are current

Each key is described once, in ``program/settings_spec.py``: its type, default, description and the component
arguments it feeds and derives. From that this script writes, between ``BEGIN GENERATED`` and ``END GENERATED``
markers, ``Pulumi.yaml``'s ``config:`` block (what ``pulumi config`` and the Pulumi Cloud console show) and the
configuration tables of the documentation, one table per group of keys on the page that explains them. Everything
outside the markers stays as written.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Run as a file (python scripts/generate_stack_docs.py): the project's packages are one level up.
if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ahictl.repository import REPOSITORY_ROOT
from program.settings_spec import COMPONENT_DEFAULTS, SETTINGS_SPEC, Setting

PROJECT_DIR = REPOSITORY_ROOT

SOURCE = "program/settings_spec.py"
#: The component classes behind the short names ``feeds`` uses, as the tables show them.
COMPONENT_CLASSES = {
    "bucket_pair": "ImagingBucketPair",
    "datastore": "ImagingDatastore",
    "import_role": "ImportJobRole",
    "access": "HealthImagingAccess",
    "import_alerts": "ImportJobAlerts",
    "audit_trail": "AuditTrail",
    "auto_import": "AutoImport",
    "viewer": "ImagingViewer",
}


@dataclass(frozen=True)
class Region:
    """A generated part of a file: its markers say what it is and where it comes from."""

    path: str
    name: str
    comment: Callable[[str], str]
    render: Callable[[Sequence[Setting]], str]

    def begin(self) -> str:
        return self.comment(
            f"BEGIN GENERATED {self.name}: written by scripts/generate_stack_docs.py from {SOURCE}; edit it there"
        )

    def end(self) -> str:
        return self.comment(f"END GENERATED {self.name}")


def yaml_comment(text: str) -> str:
    return f"  # {text}"


def markdown_comment(text: str) -> str:
    return f"<!-- {text} -->"


def pulumi_yaml_config(spec: Sequence[Setting]) -> str:
    """The entries of ``Pulumi.yaml``'s ``config:`` block: type, items, description and default (none if required)."""
    lines: list[str] = []
    for setting in spec:
        lines += [f"  {setting.key}:", f"    type: {setting.type}"]
        if setting.type == "array":
            lines += ["    items:", "      type: string"]
        lines.append(f"    description: {json.dumps(setting.description, ensure_ascii=False)}")
        if setting.default is not None:
            lines.append(f"    default: {json.dumps(setting.default, ensure_ascii=False)}")
    return "\n".join(lines)


def shown_default(value: Any) -> str:
    """A default as the tables show it: as a stack file would spell it."""
    if value is None:
        return "required"
    if isinstance(value, str):
        return f"`{value}`" if value else '`""`'
    if isinstance(value, list):
        return "`[" + ", ".join(str(item) for item in value) + "]`"
    return f"`{json.dumps(value)}`"


def shown_arguments(arguments: Sequence[str]) -> list[str]:
    """Component arguments (``<component>.<argument>``) by argument; one every component takes is said so once."""
    by_argument: dict[str, list[str]] = {}
    for name in arguments:
        component, _, argument = name.partition(".")
        by_argument.setdefault(argument, []).append(component)
    shown = []
    for argument, components in by_argument.items():
        if set(components) == set(COMPONENT_DEFAULTS):
            shown.append(f"`{argument}` of every component")
        else:
            shown += [f"`{COMPONENT_CLASSES[c]}.{argument}`" for c in components]
    return shown


def shown_feeds(setting: Setting) -> str:
    """The component arguments a key feeds."""
    return ", ".join(shown_arguments(setting.feeds)) or "none: the program reads it"


def shown_derives(setting: Setting) -> str:
    """The component arguments derived from a key (``Setting.derives``); empty when there are none."""
    return ", ".join(shown_arguments(setting.derives))


def markdown_table(spec: Sequence[Setting]) -> str:
    """One row per key: its default, its description, and the component arguments derived from it and it feeds."""
    rows = ["| Key | Type | Default | Meaning | Derives | Feeds |", "|---|---|---|---|---|---|"]
    for setting in spec:
        # Markdown would take '<stack>' for an HTML tag and a '|' for the end of a cell.
        description = setting.description.replace("|", "\\|").replace("<", "\\<")
        rows.append(
            f"| `{setting.key}` | {setting.type} | {shown_default(setting.default)} | {description} | "
            f"{shown_derives(setting)} | {shown_feeds(setting)} |"
        )
    return "\n".join(rows)


#: The documentation's tables: page, name, and the first key of each; a table holds the keys from its first key up
#: to the next table's first key, in ``SETTINGS_SPEC``'s order, so every key is in exactly one table.
TABLES = (
    ("docs/configuration.md", "table of the general keys", "accountId"),
    ("docs/access-for-people.md", "table of the access keys", "accessPersonas"),
    ("docs/alerts-audit-and-import-on-upload.md", "table of the import alert keys", "importAlerts"),
    ("docs/alerts-audit-and-import-on-upload.md", "table of the audit trail keys", "auditTrail"),
    ("docs/alerts-audit-and-import-on-upload.md", "table of the import on upload keys", "autoImport"),
)


def table_keys(spec: Sequence[Setting], first_key: str) -> list[Setting]:
    """The keys of the table that starts at ``first_key``."""
    keys = [s.key for s in spec]
    firsts = sorted(keys.index(first) for _, _, first in TABLES)
    start = keys.index(first_key)
    end = next((index for index in firsts if index > start), len(keys))
    return list(spec[start:end])


def table_region(path: str, name: str, first_key: str) -> Region:
    return Region(path, name, markdown_comment, lambda spec: markdown_table(table_keys(spec, first_key)))


REGIONS = (
    Region("Pulumi.yaml", "stack keys", yaml_comment, pulumi_yaml_config),
    *(table_region(path, name, first_key) for path, name, first_key in TABLES),
)


def with_region(text: str, region: Region, content: str) -> str:
    """``text`` with the lines between the region's markers replaced by ``content``."""
    begin, end = region.begin(), region.end()
    lines = text.split("\n")
    if lines.count(begin) != 1 or lines.count(end) != 1 or lines.index(begin) > lines.index(end):
        raise SystemExit(
            f"{region.path}: expected one line {begin!r} and, after it, one line {end!r} around the generated "
            f"{region.name}; put them back where the {region.name} belongs and run scripts/generate_stack_docs.py."
        )
    return "\n".join([*lines[: lines.index(begin) + 1], content, *lines[lines.index(end) :]])


def generated_files(root: Path, spec: Sequence[Setting] = SETTINGS_SPEC) -> dict[Path, str]:
    """Each file with generated regions, as the script would write it."""
    texts: dict[Path, str] = {}
    for region in REGIONS:
        path = root / region.path
        text = texts.get(path, path.read_text())
        texts[path] = with_region(text, region, region.render(spec))
    return texts


def stale_files(root: Path, spec: Sequence[Setting] = SETTINGS_SPEC) -> list[Path]:
    """The files whose generated regions differ from what the script would write."""
    return [path for path, text in generated_files(root, spec).items() if path.read_text() != text]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 unless the files are current; write nothing")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(PROJECT_DIR)
        for path in stale:
            print(
                f"{path.relative_to(PROJECT_DIR)} differs from {SOURCE}: run venv/bin/python scripts/generate_stack_docs.py",
                file=sys.stderr,
            )
        return 1 if stale else 0
    for path, text in generated_files(PROJECT_DIR).items():
        if path.read_text() != text:
            path.write_text(text)
            print(f"wrote {path.relative_to(PROJECT_DIR)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
