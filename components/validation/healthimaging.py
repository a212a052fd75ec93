"""HealthImaging data store names and IDs."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ._text import show

_DATASTORE_NAME = re.compile(r"[A-Za-z0-9._/#-]+")
#: HealthImaging's ``DatastoreId`` (its API model's pattern).
_DATASTORE_ID = re.compile(r"[0-9a-z]{32}")


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


def datastore_ids_problems(setting: str, ids: Any) -> list[str]:
    """A list of HealthImaging data store IDs: each 32 lowercase ASCII letters and digits."""
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Sequence):
        return [f"{setting} = {show(ids)}: expected a list of data store IDs, for example ['{'0' * 32}']."]
    return [
        f"{setting}[{index}] = {show(value)} is not a data store ID: 32 lowercase letters and digits, as HealthImaging "
        "shows them (`aws medical-imaging list-datastores`)."
        for index, value in enumerate(ids)
        if not isinstance(value, str) or not _DATASTORE_ID.fullmatch(value)
    ]
