"""Command line: ``python -m ahictl plan --stack dev``."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ahictl",
        description="Tools for the AWS HealthImaging setup. Everything here runs offline.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    plan = commands.add_parser(
        "plan",
        help="show what `pulumi up` would create for a stack, without AWS or the Pulumi CLI",
        description="Run the real program under Pulumi's mocks with the stack's configuration and show every "
        "resource (type, name, parent, protection), its settings, every policy document and the stack outputs.",
    )
    plan.add_argument("--stack", "-s", default="dev", help="stack name: reads Pulumi.<stack>.yaml (default: dev)")
    plan.add_argument("--format", "-f", choices=("text", "json"), default="text", help="output format (default: text)")
    plan.add_argument("--output", "-o", type=Path, help="write to this file instead of standard output")
    plan.add_argument(
        "--project-dir", type=Path, default=PROJECT_DIR, help="directory of Pulumi.yaml (default: this project)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # pulumi_aws warns about deprecated resources at import time; they are not this program's.
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    from components.validation import InvalidInputError

    from . import mockrun
    from . import plan as plan_module

    try:
        plan = plan_module.plan_stack(args.project_dir.resolve(), args.stack)
    except (InvalidInputError, plan_module.PlanError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        mockrun.close_event_loop()
    text = plan_module.to_json(plan) if args.format == "json" else plan_module.render_text(plan)
    if args.output:
        args.output.write_text(text)
        print(f"wrote {args.format} plan of stack {args.stack!r} to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
