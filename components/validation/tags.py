"""AWS resource tags."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ._text import show

#: AWS accepts Unicode letters and digits in tags (``\p{L}\p{N}``), so ``\w`` is meant here; whitespace is
#: limited to the space character (no tabs or newlines).
_TAG_CHARS = re.compile(r"[\w .:/=+\-@]*")

#: HealthImaging's own rule for a data store's tag keys, copied from its API model (botocore's
#: ``medical-imaging/2023-07-19/service-2.json``, shape ``TagKey``; a test compares the two). It is narrower than
#: the general rule: ASCII only, no space, no ``@``. ``+-=`` in the class is a range (``+ , - . / 0-9 : ; < =``),
#: so digits pass too. HealthImaging's ``TagValue`` has no pattern: values follow the general rule only.
HEALTHIMAGING_TAG_KEY_PATTERN = "(?!aws:)[a-zA-Z+-=._:/]+"
_HEALTHIMAGING_TAG_KEY = re.compile(HEALTHIMAGING_TAG_KEY_PATTERN)


def tags_problems(setting: str, tags: Any) -> list[str]:
    """Tags: a mapping of string keys (1-128 characters, not ``aws:``) to string values (at most 256)."""
    if not isinstance(tags, Mapping):
        return [f"{setting} = {show(tags)}: tags must be a mapping of key to value, for example {{team: imaging}}."]
    problems = []
    if len(tags) > 50:
        problems.append(f"{setting} has {len(tags)} tags; AWS allows at most 50 per resource.")
    for key, value in tags.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 128:
            problems.append(f"{setting} key {show(key)}: a tag key must be a string of 1 to 128 characters.")
            continue
        if key.lower().startswith("aws:"):
            problems.append(f"{setting} key {show(key)}: keys starting with 'aws:' are reserved for AWS; rename it.")
        if not _TAG_CHARS.fullmatch(key):
            problems.append(
                f"{setting} key {show(key)} contains characters AWS tags do not accept; "
                "use letters, digits, spaces and _ . : / = + - @"
            )
        if not isinstance(value, str):
            problems.append(f"{setting}.{key} = {show(value)}: tag values must be strings; quote the value.")
        elif len(value) > 256:
            problems.append(f"{setting}.{key} is {len(value)} characters long; a tag value may have at most 256.")
        elif not _TAG_CHARS.fullmatch(value):
            problems.append(
                f"{setting}.{key} = {show(value)} contains characters AWS tags do not accept; "
                "use letters, digits, spaces and _ . : / = + - @"
            )
    return problems


def datastore_tags_problems(setting: str, tags: Any) -> list[str]:
    """Tags of a HealthImaging data store: the general rule (:func:`tags_problems`) plus HealthImaging's narrower
    rule for keys (:data:`HEALTHIMAGING_TAG_KEY_PATTERN`), each key reported once."""
    problems = tags_problems(setting, tags)
    if not isinstance(tags, Mapping):
        return problems
    for key in tags:
        reported = any(p.startswith(f"{setting} key {show(key)}") for p in problems)
        if isinstance(key, str) and not reported and not _HEALTHIMAGING_TAG_KEY.fullmatch(key):
            problems.append(
                f"{setting} key {show(key)}: HealthImaging refuses it as a data store tag key (these tags reach the "
                "data store); use only ASCII letters, digits and _ . : / = + - (no spaces, @ or accented letters)."
            )
    return problems
