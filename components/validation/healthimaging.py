"""HealthImaging data store names."""

from __future__ import annotations

import re

from ._text import show

_DATASTORE_NAME = re.compile(r"[A-Za-z0-9._/#-]+")


def datastore_name_problems(setting: str, name: str) -> list[str]:
    """HealthImaging data store name: 1 to 256 characters of ``[A-Za-z0-9._/#-]``."""
    if not isinstance(name, str) or not name:
        return [f"{setting} = {show(name)}: a data store name must be a non-empty string."]
    problems = []
    if len(name) > 256:
        problems.append(f"{setting} = {show(name[:40] + '...')} is {len(name)} characters long; the limit is 256.")
    if not _DATASTORE_NAME.fullmatch(name):
        bad = sorted({c for c in name if not re.fullmatch(r"[A-Za-z0-9._/#-]", c)})
        problems.append(
            f"{setting} = {show(name)} contains characters HealthImaging does not accept ({' '.join(map(repr, bad))}); "
            "use only letters, digits and . _ / # -"
        )
    return problems
