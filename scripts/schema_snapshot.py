"""The schema the component provider plugin serves, kept as a committed snapshot so that review shows every change.

Usage::

    venv/bin/python scripts/schema_snapshot.py            # rewrite tests/snapshots/healthimaging-schema.json
    venv/bin/python scripts/schema_snapshot.py --check    # exit 1 unless the snapshot is current
    venv/bin/python scripts/schema_snapshot.py --print    # print the served schema

The schema is asked for the way the Pulumi engine asks: ``GetSchema`` on the SDK's provider servicer wrapping
the provider that ``provider/__main__.py`` builds. The snapshot is that JSON with sorted keys and two-space
indentation, so that a diff shows exactly which input, output, type or description changed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import runpy
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

# Run as a file (python scripts/schema_snapshot.py): the project's packages are one level up.
if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi.provider.server import ProviderServicer
from pulumi.runtime import proto

from ahictl.repository import REPOSITORY_ROOT

PLUGIN_MAIN = REPOSITORY_ROOT / "provider" / "__main__.py"
SNAPSHOT = REPOSITORY_ROOT / "tests" / "snapshots" / "healthimaging-schema.json"
#: The command that rewrites the snapshot (named in the test's failure message).
UPDATE_COMMAND = "venv/bin/python scripts/schema_snapshot.py"


def plugin_servicer() -> ProviderServicer:
    """The SDK's gRPC servicer around the provider the plugin builds (not connected to any engine)."""
    plugin = runpy.run_path(str(PLUGIN_MAIN), run_name="healthimaging_provider")
    return ProviderServicer(plugin["build_provider"](), [], engine_address="")


def served_schema(servicer: ProviderServicer | None = None) -> dict[str, Any]:
    """The schema as ``GetSchema`` returns it, parsed."""
    servicer = servicer or plugin_servicer()
    response = _run(servicer.GetSchema(proto.GetSchemaRequest(version=0), None))
    schema: dict[str, Any] = json.loads(response.schema)
    return schema


def served_version(servicer: ProviderServicer | None = None) -> str:
    """The version ``GetPluginInfo`` returns."""
    servicer = servicer or plugin_servicer()
    info = _run(servicer.GetPluginInfo(None, None))
    return str(info.version)


def _run(call: Coroutine[Any, Any, Any]) -> Any:
    """Run one servicer call on a loop of its own, leaving the thread's current event loop (Pulumi's) alone."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(call)
    finally:
        loop.close()


def render(schema: dict[str, Any]) -> str:
    """The snapshot text of a schema."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _shown(path: Path) -> str:
    return str(path.relative_to(REPOSITORY_ROOT)) if path.is_relative_to(REPOSITORY_ROOT) else str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 unless the snapshot is current")
    mode.add_argument("--print", action="store_true", help="print the served schema")
    args = parser.parse_args(argv)
    text = render(served_schema())
    if args.print:
        sys.stdout.write(text)
        return 0
    if args.check:
        current = SNAPSHOT.read_text() if SNAPSHOT.exists() else ""
        if current != text:
            print(f"{_shown(SNAPSHOT)} is out of date; run: {UPDATE_COMMAND}", file=sys.stderr)
            return 1
        return 0
    SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
    SNAPSHOT.write_text(text)
    print(f"wrote {_shown(SNAPSHOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
