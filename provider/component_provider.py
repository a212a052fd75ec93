"""The ``healthimaging`` component provider: the components of ``components/`` served to other languages.

:class:`HealthImagingProvider` is Pulumi's :class:`ComponentProvider` (schema inferred from the components'
annotations, ``Construct`` builds a component from a request) plus the checks that make a request from
TypeScript, YAML, Go, C# or Java fail the way a Python caller's would, before anything is registered:

- every problem is reported at once, as an ``InputPropertiesError`` whose property paths and sentences use the
  schema's camelCase names (``noncurrentVersionExpirationDays``), never the Python ones;
- a required input that is missing, a plain input (one the component branches on) that arrives as an output of
  another resource or as a secret, and an integer input that is not a whole number are refused by name;
- then the component's own rules (``validate_*_args`` beside each component) run with those names.

Numbers cross the wire as floats (``30`` arrives as ``30.0``): the components accept whole floats for their
integer arguments (:func:`components.validation.whole_number`), so nothing is converted here.

The version served (schema and ``GetPluginInfo``) is ``[project] version`` of ``pyproject.toml``: one place.
"""

from __future__ import annotations

import re
import sys
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pulumi
from pulumi.errors import InputPropertiesError, InputPropertyErrorDetails
from pulumi.provider.experimental.analyzer import ComponentDefinition, PropertyType
from pulumi.provider.experimental.component import ComponentProvider
from pulumi.provider.provider import ConstructResult
from pulumi.provider.server import ComponentInitError
from pulumi.runtime import known_types

from ahictl.repository import REPOSITORY_ROOT
from components.validation import InvalidInputError, whole_number

#: Package name of every type token (``healthimaging:index:<Class>``) and of the SDKs generated for consumers.
PACKAGE_NAME = "healthimaging"
#: The repository root: the components and ``pyproject.toml`` live there, beside this directory.
PYPROJECT = REPOSITORY_ROOT / "pyproject.toml"

#: A component's rules: ``validate_<subject>_args(args, names)`` returns one sentence per problem, naming each
#: argument as ``names`` maps it.
Validator = Callable[[Mapping[str, Any], Mapping[str, str] | None], list[str]]
_VALIDATOR_NAME = re.compile(r"validate_\w+_args")


def package_version(pyproject: Path = PYPROJECT) -> str:
    """``[project] version`` of ``pyproject.toml``: the version the plugin serves and releases are tagged with."""
    with pyproject.open("rb") as file:
        version = tomllib.load(file)["project"]["version"]
    if not isinstance(version, str) or not version:
        raise ValueError(f"{pyproject}: [project] version must be a non-empty string, found {version!r}")
    return version


def component_validator(component: type[pulumi.ComponentResource]) -> Validator | None:
    """The one ``validate_*_args`` function defined in the component's module, or None when there is not exactly one."""
    module = sys.modules[component.__module__]
    found = [
        value
        for name, value in vars(module).items()
        if _VALIDATOR_NAME.fullmatch(name) and callable(value) and getattr(value, "__module__", "") == module.__name__
    ]
    return found[0] if len(found) == 1 else None


def _problem_property(problem: str, schema_names: list[str]) -> str:
    """The schema name a problem sentence starts with ('' when it starts with none)."""
    for schema_name in sorted(schema_names, key=len, reverse=True):
        if problem.startswith(schema_name):
            return schema_name
    return ""


def wire_problems(inputs: Mapping[str, Any], definition: ComponentDefinition) -> list[InputPropertyErrorDetails]:
    """Problems a request can have before the component's own rules can even run, by schema name:
    a missing required input, a plain input that is an output or a secret, an integer that is not whole."""
    problems: list[InputPropertyErrorDetails] = []
    for schema_name, prop in definition.inputs.items():
        value = inputs.get(schema_name)
        if value is None:
            if not prop.optional:
                problems.append(
                    {
                        "property_path": schema_name,
                        "reason": f"Missing required input '{schema_name}' on '{definition.name}'",
                    }
                )
            continue
        if prop.plain and (known_types.is_output(value) or _contains_output(value)):
            problems.append(
                {
                    "property_path": schema_name,
                    "reason": (
                        f"{schema_name} must be a plain value known before deployment: {definition.name} decides from "
                        "it which resources to create. It arrived as an output of another resource or as a secret; "
                        "pass the literal value instead."
                    ),
                }
            )
            continue
        if prop.type == PropertyType.INTEGER and whole_number(value) is None:
            problems.append(
                {
                    "property_path": schema_name,
                    "reason": f"{schema_name} = {value!r}: expected a whole number, for example 30.",
                }
            )
    return problems


def _contains_output(value: Any) -> bool:
    if known_types.is_output(value):
        return True
    if isinstance(value, list):
        return any(_contains_output(item) for item in value)
    if isinstance(value, dict):
        return any(_contains_output(item) for item in value.values())
    return False


class HealthImagingProvider(ComponentProvider):
    """The components as a Pulumi provider, refusing a bad request by camelCase name before anything is created."""

    def __init__(self, components: list[type[pulumi.ComponentResource]], version: str) -> None:
        super().__init__(components, PACKAGE_NAME, None, version)
        self._validators: dict[str, Validator | None] = {
            component.__name__: component_validator(component) for component in components
        }

    def construct(
        self,
        name: str,
        resource_type: str,
        inputs: pulumi.Inputs,
        options: pulumi.ResourceOptions | None = None,
    ) -> ConstructResult:
        self.validate_resource_type(PACKAGE_NAME, resource_type)
        component_name = resource_type.rsplit(":", maxsplit=1)[-1]
        definition = self._component_defs[component_name]
        subject = f"{component_name} {name!r}"

        errors = wire_problems(inputs, definition)
        if errors:
            raise InputPropertiesError(_message(subject, [e["reason"] for e in errors]), errors)

        validator = self._validators.get(component_name)
        if validator is not None:
            schema_names = {python: schema for schema, python in definition.inputs_mapping.items()}
            problems = validator(self.map_inputs(inputs, definition), schema_names)
            if problems:
                names = list(definition.inputs)
                raise InputPropertiesError(
                    _message(subject, problems),
                    [{"property_path": _problem_property(p, names), "reason": p} for p in problems],
                )

        try:
            return super().construct(name, resource_type, inputs, options)
        except ComponentInitError as error:
            # A RunError is a user mistake the component reports itself: show its message, not a traceback.
            if isinstance(error.inner, pulumi.RunError):
                raise error.inner from None
            raise


def _message(subject: str, problems: list[str]) -> str:
    """The text of the error a Python caller gets for the same problems."""
    return str(InvalidInputError(subject, problems))
