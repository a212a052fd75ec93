"""Command line: ``python -m ahictl plan --stack dev`` (offline), and, after ``pulumi up``,
``verify``, ``import``, ``jobs`` and ``view`` against the deployed stack."""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from pathlib import Path
from typing import Any

from .architecture import ComponentNotInPlanError, detail_names
from .output_files import write_whole
from .repository import REPOSITORY_ROOT

#: Output formats of ``plan``.
FORMATS = ("text", "json", "mermaid", "tfplan", "policies")
#: Picture formats of ``plan`` (the architecture view drawn by the optional ``diagrams`` extra).
PICTURE_FORMATS = ("svg", "png")
#: What a diagram shows: the overview of the architecture, every resource, or one supporting component in full.
DETAILS = ("architecture", "resources", *detail_names())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ahictl",
        description="Tools for the AWS HealthImaging setup: `plan` runs offline; `verify`, `import`, `jobs` and "
        "`view` work on the deployed stack with your AWS credentials; `sandbox` deploys the stack into a local AWS on "
        "127.0.0.1 to try them without an account.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    plan = commands.add_parser(
        "plan",
        help="show what `pulumi up` would create for a stack, without AWS or the Pulumi CLI",
        description="Run the real program under Pulumi's mocks with the stack's configuration and show every "
        "resource (type, name, parent, protection), its settings, every policy document and the stack outputs.",
    )
    plan.add_argument("--stack", "-s", default="dev", help="stack name: reads Pulumi.<stack>.yaml (default: dev)")
    plan.add_argument(
        "--format",
        "-f",
        choices=FORMATS + PICTURE_FORMATS,
        default="text",
        help="output format (default: text): text for people; json, the plan itself (stable: diff two of them); "
        "mermaid, a diagram (see --detail); tfplan, a Terraform-plan-shaped JSON for checkov (pulumi-aws "
        "resources only); policies, every policy document, for policy linters; svg and png, a picture of the "
        "architecture view with AWS icons (needs the optional extra: pip install -r requirements-diagrams.txt "
        "and Graphviz)",
    )
    plan.add_argument(
        "--detail",
        choices=DETAILS,
        default="architecture",
        help="what the mermaid diagram shows (default: architecture): architecture, the overview: the components "
        "and the resources a person thinks about with the relationships that matter, each supporting component "
        f"as one node; resources, every resource and every reference between them; {', '.join(detail_names())}: "
        "that supporting component in full, with what it reaches",
    )
    plan.add_argument("--output", "-o", type=Path, help="write to this file instead of standard output")
    plan.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="overrides",
        help="plan with a project setting changed, without editing the stack file (repeatable), for example "
        "--set autoImport=true",
    )
    plan.add_argument(
        "--project-dir", type=Path, default=REPOSITORY_ROOT, help="directory of Pulumi.yaml (default: this project)"
    )
    for module in _operational_command_modules():
        module.add_parser(commands)
    return parser


#: The commands that work on a deployed stack, and the sandbox to deploy it into without AWS; each module has
#: ``add_parser(commands)`` and ``run(args)``.
OPERATIONAL_COMMANDS = {
    "verify": "ahictl.verify_command",
    "import": "ahictl.import_command",
    "jobs": "ahictl.jobs_command",
    "view": "ahictl.view_command",
    "sandbox": "ahictl.sandbox_command",
}


def _operational_command_modules() -> list[Any]:
    modules = []
    for name in OPERATIONAL_COMMANDS.values():
        try:
            modules.append(importlib.import_module(name))
        except ModuleNotFoundError as error:
            if error.name != name:  # a module that exists but fails to import is a real error
                raise
    return modules


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    _usage_errors_as_json(parser, sys.argv[1:] if argv is None else list(argv))
    args = parser.parse_args(argv)
    if args.command in OPERATIONAL_COMMANDS:
        result: int = importlib.import_module(OPERATIONAL_COMMANDS[args.command]).run(args)
        return result
    return _run_plan(args)


def _usage_errors_as_json(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """An operational command's --json also covers the errors of the top-level parser (an unknown flag)."""
    command = next((item for item in argv if not item.startswith("-")), None)
    if command not in OPERATIONAL_COMMANDS:
        return
    document = getattr(importlib.import_module(OPERATIONAL_COMMANDS[command]), "usage_failure_json", None)
    if document is not None:
        from .ops_common import usage_errors_as_json

        usage_errors_as_json(
            parser, lambda message: document(message.replace(parser.prog, f"{parser.prog} {command}", 1))
        )


def _run_plan(args: argparse.Namespace) -> int:
    # pulumi_aws warns about deprecated resources at import time; they are not this program's.
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    from components.validation import InvalidInputError

    from . import mockrun
    from . import plan as plan_module

    problem = _output_problem(args.output, args.format, args.stack) if args.output else ""
    if not problem and (args.format in PICTURE_FORMATS or args.detail != "architecture"):
        problem = _picture_problem(args.format, args.detail, args.output)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        overrides = plan_module.parse_overrides(args.overrides)
        plan = plan_module.plan_stack(args.project_dir.resolve(), args.stack, overrides)
    except (InvalidInputError, plan_module.PlanError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        mockrun.close_event_loop()
        close_leftover_event_loops()
    if args.format in PICTURE_FORMATS:
        from . import architecture, diagram_svg

        picture = diagram_svg.render_picture(architecture.overview(architecture.architecture(plan)), args.format)
        if args.output:
            problem = _write_output(args.output, picture)
            if problem:
                print(f"error: {problem}", file=sys.stderr)
                return 2
            print(f"wrote {args.format} diagram of stack {args.stack!r} to {args.output}", file=sys.stderr)
        else:
            sys.stdout.buffer.write(picture)
        return 0
    try:
        text = render(plan, args.format, args.detail)
    except ComponentNotInPlanError as error:
        print(f"error: --detail {args.detail}: {error}", file=sys.stderr)
        return 2
    if args.output:
        problem = _write_output(args.output, text.encode())
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
        print(f"wrote {args.format} plan of stack {args.stack!r} to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


#: The file name extension of each output format, for the example file name of an ``--output`` error.
OUTPUT_EXTENSIONS = {"text": "txt", "json": "json", "mermaid": "mmd", "tfplan": "json", "policies": "json"}


def _output_problem(output: Path, fmt: str, stack: str) -> str:
    """Why ``--output`` cannot be written ('' when it looks writable), checked before the plan runs."""
    parent = output.parent
    try:
        if output.is_dir():
            example = output / f"plan-{stack}.{OUTPUT_EXTENSIONS.get(fmt, fmt)}"
            return f"--output {output}: is a directory; give a file name, for example --output {example}"
        if not parent.exists():
            return (
                f"--output {output}: the directory {parent} does not exist; create it first "
                "or give a file in an existing directory"
            )
        if not parent.is_dir():
            return f"--output {output}: {parent} is not a directory; give a file in an existing directory"
    except OSError as error:
        return _unwritable(output, error)
    return ""


def _write_output(output: Path, content: bytes) -> str:
    """Write ``content`` to ``--output``; why it could not be written ('' when it was)."""
    try:
        write_whole(output, content)
    except OSError as error:
        return _unwritable(output, error)
    return ""


def _unwritable(output: Path, error: OSError) -> str:
    return (
        f"--output {output}: cannot write the file ({error.strerror or error}); choose another file, "
        "or leave out --output to print to standard output"
    )


def _picture_problem(fmt: str, detail: str, output: Path | None = None) -> str:
    """Why ``--format``/``--detail`` cannot be served ('' when they can), checked before the plan runs."""
    if detail != "architecture" and fmt != "mermaid":
        return f"--detail {detail} applies to --format mermaid only (got --format {fmt})"
    if fmt == "png" and not output and sys.stdout.isatty():
        return "--format png writes a binary picture: pass --output FILE.png (or redirect standard output)"
    if fmt in PICTURE_FORMATS:
        from . import diagram_svg

        missing = diagram_svg.missing_requirements()
        if missing:
            return f"--format {fmt} needs {' and '.join(missing)}; or use --format mermaid, which needs neither"
    return ""


def render(plan: dict[str, Any], fmt: str, detail: str = "architecture") -> str:
    """The plan document in one of :data:`FORMATS`; a mermaid diagram shows ``detail`` (one of :data:`DETAILS`)."""
    from . import architecture, mermaid, policy_export, tfplan
    from . import plan as plan_module

    if fmt == "json":
        return plan_module.to_json(plan)
    if fmt == "mermaid":
        if detail == "resources":
            return mermaid.render_mermaid(plan)
        if detail == "architecture":
            return mermaid.render_architecture(architecture.overview(architecture.architecture(plan)))
        if detail in DETAILS:
            return mermaid.render_architecture(architecture.component_detail(architecture.architecture(plan), detail))
        raise ValueError(f"unknown detail {detail!r}; choose one of {', '.join(DETAILS)}")
    if fmt == "tfplan":
        return tfplan.to_json(tfplan.build_tfplan(plan))
    if fmt == "policies":
        return policy_export.to_json(policy_export.collect_policies(plan))
    if fmt == "text":
        return plan_module.render_text(plan)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def close_leftover_event_loops() -> None:
    """Close the event loops the SDK's synchronous helpers left open. Closed now, they stay quiet;
    left to the garbage collector at interpreter exit, their sockets are gone first and each prints
    an "Exception ignored" traceback."""
    import asyncio
    import gc

    for candidate in gc.get_objects():
        if (
            isinstance(candidate, asyncio.AbstractEventLoop)
            and not candidate.is_closed()
            and not candidate.is_running()
        ):
            candidate.close()
