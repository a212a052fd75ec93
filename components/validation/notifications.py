"""Where alerts go and when checks run: e-mail addresses, HTTPS endpoints and EventBridge schedule expressions."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Sequence
from typing import Any

from ._text import show

#: A deliberately plain shape (SNS checks deliverability itself by asking for a confirmation): one ``@``, a dot in
#: the domain, no spaces, printable ASCII.
_EMAIL = re.compile(r"[\x21-\x3f\x41-\x7e]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
#: ``rate(1 hour)``, ``rate(15 minutes)``, ``rate(2 days)``: EventBridge's rate expressions.
_RATE = re.compile(r"rate\((?P<value>[1-9][0-9]*) (?P<unit>minute|minutes|hour|hours|day|days)\)")
#: ``cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>)``: six fields of cron characters.
_CRON = re.compile(r"cron\((?P<fields>[0-9A-Za-z*?,/#L W-]+)\)")
_MINUTES_PER_UNIT = {"minute": 1, "hour": 60, "day": 24 * 60}


def _list_problems(setting: str, value: Any, example: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        return [f"{setting} = {show(value)}: give a list, for example [{example}]."]
    return []


def email_addresses_problems(setting: str, value: Any) -> list[str]:
    """A list of e-mail addresses, each once."""
    problems = _list_problems(setting, value, "imaging-oncall@example.org")
    if problems:
        return problems
    for address in value:
        if not isinstance(address, str) or not _EMAIL.fullmatch(address):
            problems.append(
                f"{setting} lists {show(address)}, which is not an e-mail address (name@example.org). "
                "Correct it or remove it."
            )
    problems += _repeated(setting, value)
    return problems


def https_endpoints_problems(setting: str, value: Any) -> list[str]:
    """A list of ``https://`` URLs with a host and no user name or password in them, each once."""
    problems = _list_problems(setting, value, "https://alerts.example.org/healthimaging")
    if problems:
        return problems
    for url in value:
        parsed = urllib.parse.urlsplit(url) if isinstance(url, str) else None
        if parsed is None or parsed.scheme != "https" or not parsed.hostname or any(c.isspace() for c in url):
            problems.append(
                f"{setting} lists {show(url)}, which is not an https:// URL with a host name. SNS delivers alerts "
                "over HTTPS only here (plain HTTP would carry them unencrypted)."
            )
        elif parsed.username is not None or parsed.password is not None:
            problems.append(
                f"{setting} lists a URL with a user name or password in it ({parsed.hostname}): credentials must "
                "not be written into the stack configuration. Use an endpoint that authenticates SNS by its "
                "signed messages instead."
            )
    problems += _repeated(setting, value)
    return problems


def _repeated(setting: str, values: Sequence[Any]) -> list[str]:
    listed = [str(v) for v in values]
    repeated = sorted({v for v in listed if listed.count(v) > 1})
    if repeated:
        return [f"{setting} lists {', '.join(map(repr, repeated))} more than once; list each once."]
    return []


def schedule_minutes(expression: str) -> int | None:
    """The interval of a ``rate(...)`` expression in minutes (None for ``cron(...)`` or anything else)."""
    match = _RATE.fullmatch(expression) if isinstance(expression, str) else None
    if not match:
        return None
    unit = match["unit"].removesuffix("s")
    return int(match["value"]) * _MINUTES_PER_UNIT[unit]


def schedule_expression_problems(setting: str, value: Any) -> list[str]:
    """An EventBridge schedule: ``rate(<n> <unit>)`` with a singular unit for 1 (``rate(1 hour)``) and a plural one
    otherwise, or ``cron(...)`` with six fields."""
    advice = "for example 'rate(1 hour)', 'rate(30 minutes)' or 'cron(0 * * * ? *)'"
    if not isinstance(value, str):
        return [f"{setting} = {show(value)} is not a schedule expression; {advice}."]
    rate = _RATE.fullmatch(value)
    if rate:
        singular = rate["value"] == "1"
        if singular == rate["unit"].endswith("s"):
            unit = rate["unit"].removesuffix("s")
            right = f"rate(1 {unit})" if singular else f"rate({rate['value']} {unit}s)"
            return [f"{setting} = {show(value)}: EventBridge wants {right!r} (singular unit for 1, plural otherwise)."]
        return []
    cron = _CRON.fullmatch(value)
    if cron and len(cron["fields"].split()) == 6:
        return []
    return [f"{setting} = {show(value)} is not an EventBridge schedule expression; {advice}."]
