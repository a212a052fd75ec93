"""Plain values: choices, whole numbers, days, name prefixes and persona lists."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ._text import show


def whole_number(value: Any) -> int | None:
    """The whole number ``value`` stands for, or None when it stands for none.

    An ``int`` is itself; a ``float`` with no fractional part is its ``int``: Pulumi sends every number between
    languages as a float, so a TypeScript or YAML program's ``30`` reaches a component as ``30.0``. A ``bool``
    (an ``int`` to Python), a string, a fractional, infinite or NaN float is none.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def as_whole_number(value: Any) -> int:
    """``value`` as an ``int``, for a component to use once its validator has accepted it (``30.0`` -> ``30``).

    Raises ``ValueError`` for anything :func:`whole_number` refuses: call it only on validated values.
    """
    number = whole_number(value)
    if number is None:
        raise ValueError(f"{show(value)} is not a whole number")
    return number


def positive_days_problems(setting: str, value: Any, maximum: int = 36500) -> list[str]:
    """A whole number of days, at least 1 (a whole float such as ``30.0`` counts)."""
    days = whole_number(value)
    if days is None:
        return [f"{setting} = {show(value)}: a number of days must be a whole number, for example 90."]
    if not 1 <= days <= maximum:
        return [f"{setting} = {days}: a number of days must be between 1 and {maximum}."]
    return []


def whole_number_problems(setting: str, value: Any, minimum: int, maximum: int) -> list[str]:
    """A whole number between ``minimum`` and ``maximum`` (a whole float such as ``4.0`` counts)."""
    number = whole_number(value)
    if number is None or not minimum <= number <= maximum:
        return [f"{setting} = {show(value)}: expected a whole number from {minimum} to {maximum}."]
    return []


def name_prefix_problems(setting: str, prefix: str, max_length: int = 24) -> list[str]:
    """The prefix for generated names: lowercase letters, digits and '-', starting with a letter."""
    if not isinstance(prefix, str) or not re.fullmatch(r"[a-z][a-z0-9-]*[a-z0-9]", prefix) or "--" in prefix:
        return [
            f"{setting} = {show(prefix)}: a name prefix must start with a lowercase letter, end with a letter or "
            "digit and contain only lowercase letters, digits and single '-', for example 'ahi-dev'."
        ]
    if len(prefix) > max_length:
        return [
            f"{setting} = {show(prefix)} is {len(prefix)} characters long; keep it to {max_length} or fewer so generated names fit."
        ]
    return []


def choice_problems(setting: str, value: Any, choices: Sequence[str]) -> list[str]:
    """One of a fixed set of strings."""
    if value not in choices:
        return [f"{setting} = {show(value)} is not one of: {', '.join(repr(c) for c in choices)}."]
    return []


def persona_names_problems(setting: str, value: Any, known: Sequence[str]) -> list[str]:
    """A list of persona names, each one of ``known``, none twice."""
    listed = ", ".join(repr(k) for k in known)
    if isinstance(value, str) or not isinstance(value, Sequence):
        return [
            f"{setting} = {show(value)}: give a list of persona names, for example [admin, reader] (known: {listed})."
        ]
    problems = []
    for name in value:
        if name not in known:
            problems.append(
                f"{setting} names the persona {show(name)}, which does not exist; the personas are {listed}. "
                "Correct the spelling or remove it."
            )
    repeated = sorted({str(n) for n in value if list(value).count(n) > 1})
    if repeated:
        problems.append(f"{setting} lists {', '.join(map(repr, repeated))} more than once; list each persona once.")
    return problems
