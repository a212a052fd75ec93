"""The stack's configuration, read and validated in one place.

``load_settings()`` reads every key of the project namespace once (the keys: :mod:`program.settings_spec`),
parses it, checks every rule (:mod:`program.settings_rules`) and Pulumi's own ``aws:`` / ``aws-native:`` keys
(:mod:`program.provider_keys`), and returns one frozen :class:`~program.settings_spec.StackSettings`. Problems in
several keys are reported together, before any resource is registered, as a
:class:`components.validation.InvalidInputError` (a ``pulumi.RunError``: the CLI shows the message without a
traceback).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from components import validation
from program.provider_keys import judge_provider_keys
from program.settings_rules import validate_settings
from program.settings_spec import SETTINGS_SPEC, SPEC_BY_KEY, Setting, StackSettings, derived_name_prefix, field_name


def _parse(setting: Setting, raw: str, problems: list[str]) -> Any:
    """Turn the engine's string form of a value into the declared type."""
    if setting.type == "string":
        return raw
    if setting.type == "boolean":
        if raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        problems.append(f"{setting.key} = {raw!r}: expected true or false.")
        return setting.default
    if setting.type == "integer":
        if re.fullmatch(r"[-+]?[0-9]+", raw.strip()):
            return int(raw)
        problems.append(f"{setting.key} = {raw!r}: expected a whole number.")
        return setting.default
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = None
    if setting.type == "array":
        if not isinstance(value, list):
            problems.append(f"{setting.key} = {raw!r}: expected a list, for example [admin, reader].")
            return list(setting.default)
        return value
    if not isinstance(value, dict):
        problems.append(f"{setting.key} = {raw!r}: expected a mapping of key: value, for example {{team: imaging}}.")
        return dict(setting.default)
    return value


def read_settings(project: str, stack: str, get: Callable[[str], str | None]) -> tuple[StackSettings, list[str]]:
    """Build settings from raw values; return them with every problem found (empty when valid).

    ``get(key)`` returns the raw string value of a project key, or None when it is not set. A value that
    cannot be parsed is reported and replaced by its default, so that the rules of every other key still
    run and every problem is reported in one go.
    """
    problems: list[str] = []
    unparsed: set[str] = set()
    values: dict[str, Any] = {}
    for setting in SETTINGS_SPEC:
        raw = get(setting.key)
        before = len(problems)
        if raw is None:
            if setting.default is None:
                problems.append(
                    f"{setting.key} is not set: {setting.description.removeprefix('Required. ')} "
                    f"Set it with `pulumi config set {setting.key} <value>`."
                )
                values[field_name(setting.key)] = ""
            else:
                default = setting.default
                values[field_name(setting.key)] = (
                    type(default)(default) if isinstance(default, (list, dict)) else default
                )
        else:
            values[field_name(setting.key)] = _parse(setting, raw, problems)
        if len(problems) > before:
            unparsed.add(setting.key)

    name_prefix_set = bool(values["name_prefix"])
    if not name_prefix_set:
        values["name_prefix"] = derived_name_prefix(stack)
    settings = StackSettings(project=project, stack=stack, name_prefix_set=name_prefix_set, **values)
    rule_problems = [
        problem
        for problem in validate_settings(settings)
        # A rule that reads a key whose value could not be read would only repeat that problem.
        if not any(re.search(rf"\b{key}\b", problem) for key in unparsed)
    ]
    return settings, problems + rule_problems


def load_settings() -> StackSettings:
    """Read and validate the current stack's configuration; raise on any problem."""
    import pulumi
    from pulumi.runtime.config import CONFIG, get_config_env

    config = pulumi.Config()
    settings, problems = read_settings(pulumi.get_project(), pulumi.get_stack(), config.get)
    all_values = {**get_config_env(), **CONFIG.get()}
    problems += unknown_key_problems(pulumi.get_project(), all_values)
    provider_keys, provider_problems = judge_provider_keys(
        {key: str(value) for key, value in all_values.items()},
        account_id=settings.account_id,
        region=settings.region,
    )
    problems += provider_problems
    validation.raise_if_problems(f"Configuration of stack {pulumi.get_stack()!r}", problems)
    return dataclasses.replace(settings, provider_keys=provider_keys)


def unknown_key_problems(project: str, keys: Iterable[str]) -> list[str]:
    """Keys of the project's namespace that the program does not know: usually a typo, which would
    otherwise leave a setting at its default without a word."""
    problems = []
    for full_key in sorted(set(keys)):
        namespace, _, key = full_key.partition(":")
        if namespace != project or key in SPEC_BY_KEY:
            continue
        close = difflib.get_close_matches(key, SPEC_BY_KEY, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else " See Pulumi.yaml for the keys this program reads."
        problems.append(f"{key} is not a setting of this program, so it would be ignored.{hint}")
    return problems


def as_raw_config(values: Mapping[str, Any]) -> dict[str, str]:
    """Turn typed values (as in a stack file) into the engine's string form, as the Pulumi CLI does."""
    raw = {}
    for key, value in values.items():
        if isinstance(value, bool):
            raw[key] = "true" if value else "false"
        elif isinstance(value, (dict, list)):
            raw[key] = json.dumps(value)
        else:
            raw[key] = str(value)
    return raw
