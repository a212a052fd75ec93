"""AWS account IDs."""

from __future__ import annotations

import re
from typing import Any

from ._text import show

_ACCOUNT_ID = re.compile(r"[0-9]{12}")
_DIGITS = re.compile(r"[0-9]+")


def account_id_problems(setting: str, value: Any) -> list[str]:
    """An AWS account ID: exactly 12 digits, given as a string."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return [f"{setting} = {show(value)}: an AWS account ID is a string of exactly 12 digits."]
    if isinstance(value, int) or (isinstance(value, str) and _DIGITS.fullmatch(value) and len(value) < 12):
        text = str(value)
        if _DIGITS.fullmatch(text) and len(text) < 12:
            lost = (
                "YAML read it as a number and dropped the leading zeros: quote it"
                if isinstance(value, int)
                else "give all 12 digits"
            )
            return [
                f"{setting} = {show(value)} has {len(text)} digits; an AWS account ID has exactly 12. "
                f'If the real ID starts with 0, {lost}, for example "{text.zfill(12)}".'
            ]
        return [f"{setting} = {show(value)}: give the account ID as a quoted string of 12 digits."]
    if not _ACCOUNT_ID.fullmatch(value):
        return [f"{setting} = {show(value)} is not an AWS account ID: it must be exactly 12 digits."]
    return []
