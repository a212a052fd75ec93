"""Resource options shared by the components."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi

#: Package part of every component's type token (``healthimaging:index:<Class>``).
PACKAGE = "healthimaging"


def child_options(
    parent: pulumi.Resource,
    *,
    protect_data: bool = False,
    retain_on_delete: bool | None = None,
    depends_on: Sequence[pulumi.Resource] | None = None,
    ignore_changes: Sequence[str] | None = None,
) -> pulumi.ResourceOptions:
    """Options for a child resource of a component.

    ``protect_data`` sets both ``protect`` and ``retain_on_delete`` on the child itself. The engine
    would propagate ``retain_on_delete`` from a component to its children, but setting it on each
    child states the intent where it matters, survives a caller's own ``opts`` and shows under
    mocks and in the offline plan.
    """
    return pulumi.ResourceOptions(
        parent=parent,
        protect=protect_data,
        retain_on_delete=protect_data if retain_on_delete is None else retain_on_delete,
        depends_on=list(depends_on) if depends_on else None,
        ignore_changes=list(ignore_changes) if ignore_changes else None,
    )
