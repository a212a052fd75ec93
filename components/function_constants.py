"""Names a Lambda function's module defines, read from its source without running it.

A function's modules import the AWS SDK at the top (``boto3``, ``botocore``), which the Pulumi program never calls;
the program needs only a few names they define, such as the attribute names of the function's table. Reading the
module-level assignments of literal values from the source keeps the function's module the one place that defines
them, and keeps the AWS SDK out of the program.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path
from types import SimpleNamespace

from ._source import parse_source


def literal_constants(module: str) -> SimpleNamespace:
    """The module-level names of ``module`` assigned a literal (``KEY = "jobId"``), without importing the module."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"no module named {module!r}", name=module)
    tree = parse_source(Path(spec.origin).read_text(), spec.origin)
    values: dict[str, object] = {}
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target, value = statement.targets[0], statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            target, value = statement.target, statement.value
        else:
            continue
        if not isinstance(target, ast.Name):
            continue
        try:
            values[target.id] = ast.literal_eval(value)
        except (ValueError, TypeError, SyntaxError):  # not a literal
            continue
    return SimpleNamespace(**values)


#: The import alerts function's table of reported jobs: its key (``KEY``) and TTL attribute (``TTL_ATTRIBUTE``).
import_alerts_reported = literal_constants("healthimaging_functions.import_alerts.reported")
