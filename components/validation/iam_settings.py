"""The settings of a component's IAM resources and of every resource's tags, read from its arguments."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._arguments import shown_as
from .iam import iam_path_problems, iam_policy_arn_problems
from .tags import tags_problems


def iam_settings_problems(args: Mapping[str, Any], path: Any, names: Mapping[str, str] | None = None) -> list[str]:
    """Problems with the IAM ``path`` of a component's roles and policies (the argument, or its default), its
    ``permissions_boundary_arn`` and its ``tags`` (both optional). ``names`` maps argument names to the names a person
    set (stack configuration keys)."""

    n = shown_as(names)

    problems = iam_path_problems(n("path"), path)
    if args.get("permissions_boundary_arn"):
        problems += iam_policy_arn_problems(n("permissions_boundary_arn"), args["permissions_boundary_arn"])
    if args.get("tags"):
        problems += tags_problems(n("tags"), args["tags"])
    return problems
