"""Read ``Pulumi.yaml`` and ``Pulumi.<stack>.yaml`` the way the Pulumi CLI passes them to a program.

What the CLI does, and so what this module does:

- A top-level configuration value that is a scalar reaches the program as its **literal text**: the CLI
  first reads every value as a string (``config.Value.unmarshalValue`` in Pulumi's SDK), so
  ``accountId: 012345678901`` is the string ``"012345678901"``, ``versioning: yes`` the string ``"yes"``
  (which the program refuses as a boolean) and an empty value or ``~`` the empty string.
- A mapping or a list is passed as JSON. Inside one, YAML readers disagree: a YAML 1.1 reader (the
  ``gopkg.in/yaml.v2`` library some Pulumi versions use) reads an unquoted ``no`` as the boolean false, a
  YAML 1.2 reader as the string ``"no"``. Such a value is refused with the advice to quote it, which is right
  under either reader. Other nested scalars follow the YAML 1.2 core schema: timestamps and ``1:30`` stay
  strings, ``0o17`` and ``0x1f`` are integers.
- ``{secure: ...}`` marks a secret; the offline plan never decrypts it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


class PlanError(Exception):
    """A problem with the project or stack files (not with the configuration values)."""


#: Plain scalars that a YAML 1.1 reader takes for booleans and a YAML 1.2 reader for strings.
YAML_1_1_BOOLEAN_WORDS = frozenset(
    word for base in ("yes", "no", "on", "off", "y", "n") for word in (base, base.capitalize(), base.upper())
)


class Yaml12CoreLoader(yaml.SafeLoader):
    """A safe loader with only the YAML 1.2 core schema's implicit types: null, bool, int, float."""

    yaml_implicit_resolvers: dict[Any, list[tuple[str, re.Pattern[str]]]] = {}  # noqa: RUF012 - PyYAML's table


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    return int(text, 0) if text.lower().lstrip("+-").startswith(("0x", "0o")) else int(text, 10)


for _tag, _pattern, _first in (
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", list("-+0123456789")),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        list("-+.0123456789"),
    ),
):
    Yaml12CoreLoader.add_implicit_resolver(_tag, re.compile(_pattern), _first)
Yaml12CoreLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


@dataclass(frozen=True)
class StackConfig:
    """A stack's configuration as the engine would pass it to the program."""

    project: str
    stack: str
    project_dir: Path
    values: dict[str, str]
    secret_keys: tuple[str, ...]

    def project_value(self, key: str, default: str) -> str:
        return self.values.get(f"{self.project}:{key}", default)


def available_stacks(project_dir: Path) -> list[str]:
    """Stack names with a ``Pulumi.<stack>.yaml`` beside ``Pulumi.yaml``."""
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml"))


def _raw(value: Any) -> str:
    """A typed value (a project default) in the engine's string form."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _compose(path: Path) -> yaml.Node | None:
    try:
        return yaml.compose(path.read_text(), Loader=Yaml12CoreLoader)
    except yaml.YAMLError as error:
        raise PlanError(f"{path.name} is not valid YAML: {error}") from error


def _mapping_items(node: yaml.Node | None, where: str) -> Iterator[tuple[str, yaml.Node]]:
    """The entries of a mapping node with string keys; a clear error for any other shape."""
    if node is None or (isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"):
        return
    if not isinstance(node, yaml.MappingNode):
        raise PlanError(f"{where} must be a mapping of key: value.")
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            raise PlanError(f"{where} has a key that is not a plain name.")
        yield str(key_node.value), value_node


def _construct(node: yaml.Node) -> Any:
    loader = Yaml12CoreLoader("")
    try:
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _ambiguous_booleans(node: yaml.Node, path: str) -> Iterator[str]:
    """Paths of plain scalars inside ``node`` that YAML 1.1 and 1.2 readers read differently."""
    if isinstance(node, yaml.ScalarNode):
        if node.style is None and node.value in YAML_1_1_BOOLEAN_WORDS:
            yield f"{path} = {node.value}"
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _ambiguous_booleans(item, f"{path}[{index}]")
    elif isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            yield from _ambiguous_booleans(value_node, f"{path}.{key_node.value}")


def _stack_value(full_key: str, node: yaml.Node, file_name: str) -> str | None:
    """The engine's string form of one stack value; None for a secret."""
    if isinstance(node, yaml.ScalarNode):
        return "" if node.tag == "tag:yaml.org,2002:null" else str(node.value)
    if isinstance(node, yaml.MappingNode) and [k.value for k, _ in node.value] == ["secure"]:
        return None
    ambiguous = list(_ambiguous_booleans(node, full_key))
    if ambiguous:
        raise PlanError(
            f"{file_name}: {', '.join(ambiguous)}: YAML 1.1 readers (some Pulumi versions) read this as a boolean "
            "and YAML 1.2 readers as text. Quote it (for example 'no') for text, or write true or false."
        )
    return json.dumps(_construct(node))


def stack_config(project_dir: Path, stack: str) -> StackConfig:
    """Read the project's defaults and the stack's values; namespace bare keys with the project name."""
    project_file = project_dir / "Pulumi.yaml"
    if not project_file.is_file():
        raise PlanError(
            f"No Pulumi.yaml in {project_dir}: run the command from the project's directory or pass --project-dir."
        )
    if "/" in stack or not stack:
        raise PlanError(
            f"--stack {stack!r}: give the stack's short name (as in Pulumi.<name>.yaml), without an organisation "
            "or project part."
        )
    project_node = _compose(project_file)
    project_doc = {key: _construct(value) for key, value in _mapping_items(project_node, "Pulumi.yaml")}
    project = project_doc.get("name")
    if not isinstance(project, str) or not project:
        raise PlanError("Pulumi.yaml has no project name (`name: ...`).")
    stack_file = project_dir / f"Pulumi.{stack}.yaml"
    if not stack_file.is_file():
        known = ", ".join(available_stacks(project_dir)) or "none"
        raise PlanError(f"No stack file {stack_file.name} in {project_dir} (stacks here: {known}).")

    values: dict[str, str] = {}
    declarations = project_doc.get("config") or {}
    if not isinstance(declarations, dict):
        raise PlanError("Pulumi.yaml: config must be a mapping of key: declaration.")
    for key, declaration in declarations.items():
        full_key = key if ":" in key else f"{project}:{key}"
        if isinstance(declaration, dict) and "default" in declaration:
            values[full_key] = _raw(declaration["default"])
        elif isinstance(declaration, dict) and "value" in declaration:
            values[full_key] = _raw(declaration["value"])
        elif not isinstance(declaration, dict):
            values[full_key] = _raw(declaration)

    secret_keys = []
    stack_entries = dict(_mapping_items(_compose(stack_file), stack_file.name))
    for key, node in _mapping_items(stack_entries.get("config"), f"{stack_file.name}: config"):
        full_key = key if ":" in key else f"{project}:{key}"
        value = _stack_value(full_key, node, stack_file.name)
        if value is None:
            secret_keys.append(full_key)
            values[full_key] = "[secret]"
        else:
            values[full_key] = value
    return StackConfig(project, stack, project_dir, values, tuple(secret_keys))
