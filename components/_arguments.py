"""Reading a component's plain arguments: each with its default, and under the name the person set it by."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def with_defaults(args: Mapping[str, Any], defaults: Mapping[str, Any]) -> Callable[[str], Any]:
    """``value(arg)``: the argument as given, else its default (from the component's ``*_DEFAULTS``, the one place
    each default lives)."""
    return lambda arg: args.get(arg, defaults[arg])


def shown_as(names: Mapping[str, str] | None) -> Callable[[str], str]:
    """``n(arg)``: the name to show for an argument in a message: the one a person set (a stack configuration key such
    as ``inputBucketName``) when ``names`` maps it, else the argument's own (``input_bucket_name``)."""
    return lambda arg: (names or {}).get(arg, arg)
