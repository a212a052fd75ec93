"""Where a component's resources go: the account, the region and the prefix of their names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._arguments import shown_as
from .accounts import account_id_problems
from .regions import region_problems
from .values import name_prefix_problems


def placement_problems(args: Mapping[str, Any], names: Mapping[str, str] | None = None) -> list[str]:
    """Problems with ``account_id``, ``region`` and ``name_prefix`` of a component's arguments.

    The region may be one HealthImaging's list lacks: the program decides whether to allow it (``allowUnlistedRegion``)
    before a component sees it. ``names`` maps argument names to the names a person set (stack configuration keys).
    """

    n = shown_as(names)

    return [
        *account_id_problems(n("account_id"), args.get("account_id")),
        *region_problems(n("region"), args.get("region", ""), allow_unlisted=True),
        *name_prefix_problems(n("name_prefix"), args.get("name_prefix", "")),
    ]
