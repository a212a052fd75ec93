"""How problems show a value."""

from __future__ import annotations

from typing import Any


def show(value: Any) -> str:
    """A value as a problem message shows it: quoted, so that spaces and newlines are visible."""
    return repr(value)
