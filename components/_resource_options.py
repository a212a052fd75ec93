"""Resource options shared by the components.

A component used in someone else's program keeps the options its caller gave: ``protect`` and
``retain_on_delete`` on the component reach every child, and a component's own ``protect_data`` can only
add protection, never take the caller's away.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi

#: Package part of every component's type token (``healthimaging:index:<Class>``).
PACKAGE = "healthimaging"

#: Attribute of a component that records whether its caller asked for ``retain_on_delete``.
_RETAIN_ATTRIBUTE = "_healthimaging_retain_on_delete"


def remember_caller_options(component: pulumi.ComponentResource, opts: pulumi.ResourceOptions | None) -> None:
    """Record the caller's ``retain_on_delete`` on ``component`` (or its parent's, when not given).

    ``protect`` needs no record: the SDK gives a child without its own ``protect`` its parent's. The engine
    propagates ``retain_on_delete`` too, but only at deployment; setting it on each child states the intent
    where it matters and shows under mocks and in the offline plan.
    """
    given = opts.retain_on_delete if opts is not None else None
    inherited = caller_retains(opts.parent) if opts is not None and opts.parent is not None else False
    setattr(component, _RETAIN_ATTRIBUTE, bool(given) if given is not None else inherited)


def caller_retains(resource: pulumi.Resource) -> bool:
    """Whether ``resource`` (a component of this package) was asked to be retained on delete."""
    return bool(getattr(resource, _RETAIN_ATTRIBUTE, False))


def child_options(
    parent: pulumi.Resource,
    *,
    protect_data: bool = False,
    retain_on_delete: bool | None = None,
    depends_on: Sequence[pulumi.Resource] | None = None,
    ignore_changes: Sequence[str] | None = None,
) -> pulumi.ResourceOptions:
    """Options for a child resource of a component.

    ``protect_data`` sets both ``protect`` and ``retain_on_delete`` on the child; ``retain_on_delete`` alone
    overrides the second. Either can only add protection: without them the child takes ``protect`` from its
    parent (the SDK does that when the child's own is unset) and ``retain_on_delete`` from the caller's options
    (:func:`remember_caller_options`).
    """
    retain = protect_data if retain_on_delete is None else retain_on_delete
    return pulumi.ResourceOptions(
        parent=parent,
        protect=True if protect_data else None,
        retain_on_delete=True if retain or caller_retains(parent) else None,
        depends_on=list(depends_on) if depends_on else None,
        ignore_changes=list(ignore_changes) if ignore_changes else None,
    )
