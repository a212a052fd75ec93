"""Reading a Lambda function's settings from its environment variables (the functions in ``healthimaging_functions``).

The variables are set by the component that deploys the function; a missing or malformed one is a deployment mistake,
reported as :class:`ConfigurationError` with the variable's name, its value and what was expected. Standard library
only: the components import the functions' settings modules, and the functions' archives carry this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

_DATASTORE_ID = re.compile(r"[0-9a-z]{32}")


class ConfigurationError(Exception):
    """The function's environment is missing a variable or holds a malformed one (a deployment mistake)."""


def require(env: Mapping[str, str], names: Iterable[str]) -> None:
    """Every variable in ``names`` is set and not empty."""
    missing = [name for name in names if not env.get(name)]
    if missing:
        raise ConfigurationError(f"the function's environment lacks {', '.join(missing)}; redeploy the stack.")


def datastore_id(env: Mapping[str, str], name: str) -> str:
    """The data store ID in the variable ``name`` (32 lower-case letters and digits)."""
    value = env.get(name, "")
    if not _DATASTORE_ID.fullmatch(value):
        raise ConfigurationError(f"{name} = {value!r} is not a data store ID.")
    return value


def whole_number(env: Mapping[str, str], name: str, default: int, *, minimum: int) -> int:
    """The whole number in the variable ``name`` (``default`` when unset or empty), at least ``minimum``."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or int(raw) < minimum:
        raise ConfigurationError(f"{name} = {raw!r} is not a whole number of at least {minimum}.")
    return int(raw)
