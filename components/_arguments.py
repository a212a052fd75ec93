"""Reading a component's plain arguments, the one way every component reads them.

- an argument with a default (a key of the component's ``*_DEFAULTS``, the one place each default lives):
  ``value = with_defaults(args, X_DEFAULTS)``, then ``value("path")``;
- a required argument: ``args["account_id"]`` (a validator, which may be handed an incomplete mapping, reads it
  with ``args.get``);
- an optional argument whose default is none: ``args.get("kms_key_arn")``, or ``args.get("...") or []`` (``or ""``)
  where the empty value stands for none;
- the tags: ``tags_of(args)``;
- the name of an argument in a message: ``n = shown_as(names)``, then ``n("path")``.

Arguments every function-backed component has are read once, by
:func:`components.python_function.function_setup`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def with_defaults(args: Mapping[str, Any], defaults: Mapping[str, Any]) -> Callable[[str], Any]:
    """``value(arg)``: the argument as given, else its default (from the component's ``*_DEFAULTS``, the one place
    each default lives)."""
    return lambda arg: args.get(arg, defaults[arg])


def tags_of(args: Mapping[str, Any]) -> dict[str, str] | None:
    """The ``tags`` argument as a dict of its own, or None when no tag is given (no ``tags`` at all, rather than an
    empty one, on the resources)."""
    return dict(args["tags"]) if args.get("tags") else None


def shown_as(names: Mapping[str, str] | None) -> Callable[[str], str]:
    """``n(arg)``: the name to show for an argument in a message: the one a person set (a stack configuration key such
    as ``inputBucketName``) when ``names`` maps it, else the argument's own (``input_bucket_name``)."""
    return lambda arg: (names or {}).get(arg, arg)
