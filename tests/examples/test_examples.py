"""The example consumers in examples/ agree with the schema the plugin serves, and the YAML one constructs.

Pulumi YAML and TypeScript cannot run here (no Pulumi CLI, no SDK generator), so the programs are read: every
property given to a component exists in the served schema with a value of its type, required inputs are
present, references resolve (config, another resource's output), plain inputs get no outputs. The YAML
program's values are then fed through the plugin's Construct, component by component in dependency order,
with outputs of earlier components passed on as output values with their dependencies.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from testkit.mock_runs import PROJECT_DIR
from testkit.provider_harness import construct_request, output_value, run_construct

EXAMPLES = PROJECT_DIR / "examples"
SCHEMA = json.loads((PROJECT_DIR / "tests" / "snapshots" / "healthimaging-schema.json").read_text())
RESOURCES = SCHEMA["resources"]
EXPRESSION = re.compile(r"\$\{([A-Za-z_][\w-]*)(?:\.([A-Za-z_]\w*))?\}")


def _token(type_: str) -> str:
    """``healthimaging:Foo`` and ``healthimaging:index:Foo`` both name ``healthimaging:index:Foo``."""
    parts = type_.split(":")
    return f"{parts[0]}:index:{parts[-1]}" if len(parts) == 2 else type_


def _literal_type_problems(path: str, value: Any, prop: dict[str, Any]) -> list[str]:
    """Problems of a literal (not an expression) against a schema property."""
    kind = prop.get("type")
    if kind == "string":
        return [] if isinstance(value, str) else [f"{path}: expected a string, got {value!r}"]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{path}: expected a boolean, got {value!r}"]
    if kind == "integer":
        whole = isinstance(value, int) and not isinstance(value, bool)
        return [] if whole else [f"{path}: expected an integer, got {value!r}"]
    if kind == "number":
        return [] if isinstance(value, (int, float)) and not isinstance(value, bool) else [f"{path}: not a number"]
    if kind == "array":
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {value!r}"]
        return [p for i, item in enumerate(value) for p in _literal_type_problems(f"{path}[{i}]", item, prop["items"])]
    if kind == "object":
        if not isinstance(value, dict):
            return [f"{path}: expected a map, got {value!r}"]
        inner = prop.get("additionalProperties", {})
        return [p for k, v in value.items() for p in _literal_type_problems(f"{path}.{k}", v, inner)]
    return [f"{path}: the schema type {kind!r} is not checked here"]


# --- Pulumi YAML ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def yaml_program() -> dict[str, Any]:
    program: dict[str, Any] = yaml.safe_load((EXAMPLES / "yaml" / "Pulumi.yaml").read_text())
    return program


def yaml_problems(program: dict[str, Any]) -> list[str]:
    """Every disagreement of a YAML program's healthimaging resources and outputs with the served schema."""
    problems: list[str] = []
    config = program.get("config", {})
    resources = program.get("resources", {})
    for name, resource in resources.items():
        token = _token(resource["type"])
        if not token.startswith("healthimaging:"):
            continue
        if token not in RESOURCES:
            problems.append(f"{name}: {token} is not in the schema")
            continue
        schema = RESOURCES[token]
        properties = resource.get("properties", {})
        for required in schema.get("requiredInputs", []):
            if required not in properties:
                problems.append(f"{name}: the required input {required} is missing")
        for key, value in properties.items():
            prop = schema["inputProperties"].get(key)
            if prop is None:
                problems.append(f"{name}.{key}: no such input of {token}")
                continue
            match = EXPRESSION.fullmatch(value) if isinstance(value, str) else None
            if not match:
                problems += _literal_type_problems(f"{name}.{key}", value, prop)
                continue
            source, attribute = match.groups()
            if attribute is None:
                if source not in config:
                    problems.append(f"{name}.{key}: ${{{source}}} is not declared in config")
                elif config[source].get("type", "string") != prop["type"]:
                    problems.append(
                        f"{name}.{key}: config {source} is {config[source].get('type')}, not {prop['type']}"
                    )
                continue
            problems += _output_reference_problems(f"{name}.{key}", source, attribute, resources, prop)
    for key, value in program.get("outputs", {}).items():
        match = EXPRESSION.fullmatch(value) if isinstance(value, str) else None
        if match and match.group(2):
            problems += _output_reference_problems(f"outputs.{key}", match.group(1), match.group(2), resources, None)
    return problems


def _output_reference_problems(
    where: str, source: str, attribute: str, resources: dict[str, Any], target: dict[str, Any] | None
) -> list[str]:
    if source not in resources:
        return [f"{where}: ${{{source}.{attribute}}} names no resource of the program"]
    token = _token(resources[source]["type"])
    outputs = RESOURCES.get(token, {}).get("properties", {})
    if attribute not in outputs:
        return [f"{where}: {token} has no output {attribute}"]
    if target is not None and target.get("plain"):
        return [f"{where}: a plain input cannot take the output {source}.{attribute}"]
    if target is not None and outputs[attribute].get("type") != target.get("type"):
        return [f"{where}: {source}.{attribute} is {outputs[attribute].get('type')}, not {target.get('type')}"]
    return []


def test_the_yaml_program_uses_the_package_it_declares(yaml_program: dict[str, Any]) -> None:
    assert "healthimaging" in yaml_program["packages"]
    assert yaml_program["packages"]["healthimaging"].endswith("/provider@v" + SCHEMA["version"])
    used = {_token(r["type"]) for r in yaml_program["resources"].values()}
    assert {
        "healthimaging:index:ImagingBucketPair",
        "healthimaging:index:ImagingDatastore",
        "healthimaging:index:ImportJobRole",
    } <= used


def test_the_yaml_program_agrees_with_the_served_schema(yaml_program: dict[str, Any]) -> None:
    assert yaml_problems(yaml_program) == []


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda p: p["resources"]["buckets"]["properties"].update(noncurrentVersionExpirationDay=30), "no such input"),
        (lambda p: p["resources"]["buckets"]["properties"].update(noncurrentVersionExpirationDays="30"), "integer"),
        (lambda p: p["resources"]["importRole"]["properties"].pop("roleName"), "required input roleName"),
        (
            lambda p: p["resources"]["importRole"]["properties"].update(datastoreArn="${store.datastoreArn}"),
            "no resource",
        ),
        (lambda p: p["resources"]["importRole"]["properties"].update(datastoreArn="${datastore.arn}"), "no output arn"),
        (lambda p: p["resources"]["buckets"]["properties"].update(kmsKeyArn="${datastore.kmsKeyArn}"), "plain input"),
        (lambda p: p["resources"]["buckets"]["properties"].update(region="${regoin}"), "not declared in config"),
    ],
)
def test_the_yaml_check_finds_mistakes(yaml_program: dict[str, Any], edit: Any, expected: str) -> None:
    broken = json.loads(json.dumps(yaml_program))
    edit(broken)
    assert any(expected in problem for problem in yaml_problems(broken))


def _dependency_order(resources: dict[str, Any]) -> list[str]:
    def references(resource: dict[str, Any]) -> set[str]:
        found = set()
        for value in resource.get("properties", {}).values():
            match = EXPRESSION.fullmatch(value) if isinstance(value, str) else None
            if match and match.group(2):
                found.add(match.group(1))
        return found

    ordered: list[str] = []
    while len(ordered) < len(resources):
        ready = [n for n, r in resources.items() if n not in ordered and references(r) <= set(ordered)]
        assert ready, "the program's resources reference each other in a cycle"
        ordered += sorted(ready)
    return ordered


def test_the_yaml_programs_values_construct_every_component(yaml_program: dict[str, Any]) -> None:
    stack_config = yaml.safe_load((EXAMPLES / "yaml" / "Pulumi.dev.yaml").read_text())["config"]
    config = {key: spec.get("default") for key, spec in yaml_program["config"].items()}
    config.update({key.split(":", 1)[1]: value for key, value in stack_config.items()})
    resources = yaml_program["resources"]
    states: dict[str, dict[str, Any]] = {}
    urns: dict[str, str] = {}
    for name in _dependency_order(resources):
        token = _token(resources[name]["type"])
        inputs: dict[str, Any] = {}
        for key, value in resources[name]["properties"].items():
            match = EXPRESSION.fullmatch(value) if isinstance(value, str) else None
            if not match:
                inputs[key] = value
            elif match.group(2) is None:
                inputs[key] = config[match.group(1)]
            else:
                source, attribute = match.groups()
                inputs[key] = output_value(states[source][attribute], dependencies=[urns[source]])
        run, state = run_construct(construct_request(token, name, inputs))
        (component,) = [r for r in run.resources if r.type == token]
        assert len(run.children_of(component)) >= 2, f"{name} registered no children"
        states[name], urns[name] = state, component.urn

    role = run.one("aws:iam/role:Role")
    assert states["datastore"]["datastoreArn"] in role.inputs["assumeRolePolicy"]
    assert set(states) == set(resources)
    assert states["buckets"]["inputBucketName"] == f"ahi-yaml-input-{config['accountId']}-{config['region']}-an"


# --- TypeScript -----------------------------------------------------------------------------------------------

NEW_COMPONENT = re.compile(r"const\s+(\w+)\s*=\s*new\s+healthimaging\.(\w+)\(\s*\"([^\"]+)\",\s*\{")
TS_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def _object_body(source: str, start: int) -> str:
    """The text between the brace before ``start`` and its matching closing brace."""
    depth = 1
    for index in range(start, len(source)):
        if source[index] in "{[(":
            depth += 1
        elif source[index] in "}])":
            depth -= 1
            if depth == 0:
                return source[start:index]
    raise AssertionError("unbalanced braces in index.ts")


def _top_level_entries(body: str) -> list[str]:
    entries, depth, current = [], 0, ""
    for char in body:
        if char in "{[(":
            depth += 1
        elif char in "}])":
            depth -= 1
        if char == "," and depth == 0:
            entries.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        entries.append(current.strip())
    return entries


def _ts_value(expression: str, components: dict[str, str], constants: dict[str, str]) -> tuple[str, Any]:
    """(kind, detail) of a TypeScript expression: a literal's value, a component output, or a string constant."""
    expression = expression.strip()
    if expression.startswith('"') and expression.endswith('"'):
        return "literal", expression[1:-1]
    if expression in ("true", "false"):
        return "literal", expression == "true"
    if TS_NUMBER.fullmatch(expression):
        return "literal", json.loads(expression)
    if expression.startswith("{"):
        inner = _top_level_entries(expression[1:-1])
        return "literal", {
            key.strip().strip('"'): _ts_value(value, components, constants)[1]
            for key, value in (entry.split(":", 1) for entry in inner)
        }
    if expression.startswith("["):
        return "literal", [_ts_value(item, components, constants)[1] for item in _top_level_entries(expression[1:-1])]
    if "." in expression and expression.split(".", 1)[0] in components:
        variable, attribute = expression.split(".", 1)
        return "output", (variable, attribute)
    if expression in constants:
        return "constant", constants[expression]
    return "unknown", expression


def typescript_problems(source: str) -> list[str]:
    problems: list[str] = []
    components = {m.group(1): f"healthimaging:index:{m.group(2)}" for m in NEW_COMPONENT.finditer(source)}
    # Constants read from config are strings (config.require / config.get ... ?? "literal").
    constants = {
        m.group(1): "string"
        for m in re.finditer(
            r"const\s+(\w+)\s*=\s*config\.(?:require|get)\(\"\w+\"\)(?:\s*\?\?\s*\"[^\"]*\")?;", source
        )
    }
    for match in NEW_COMPONENT.finditer(source):
        variable, token = match.group(1), components[match.group(1)]
        if token not in RESOURCES:
            problems.append(f"{variable}: {token} is not in the schema")
            continue
        schema = RESOURCES[token]
        body = _object_body(source, match.end())
        given: dict[str, str] = {}
        for entry in _top_level_entries(body):
            key, _, value = entry.partition(":")
            given[key.strip()] = value.strip() or key.strip()  # `accountId,` is `accountId: accountId`
        for required in schema.get("requiredInputs", []):
            if required not in given:
                problems.append(f"{variable}: the required input {required} is missing")
        for key, expression in given.items():
            prop = schema["inputProperties"].get(key)
            if prop is None:
                problems.append(f"{variable}.{key}: no such input of {token}")
                continue
            kind, detail = _ts_value(expression, components, constants)
            if kind == "literal":
                problems += _literal_type_problems(f"{variable}.{key}", detail, prop)
            elif kind == "constant":
                if prop["type"] != detail:
                    problems.append(f"{variable}.{key}: a {detail} constant given to a {prop['type']} input")
            elif kind == "output":
                source_variable, attribute = detail
                outputs = RESOURCES[components[source_variable]]["properties"]
                if attribute not in outputs:
                    problems.append(f"{variable}.{key}: {components[source_variable]} has no output {attribute}")
                elif prop.get("plain"):
                    problems.append(f"{variable}.{key}: a plain input cannot take the output {expression}")
            else:
                problems.append(f"{variable}.{key}: cannot tell the type of {expression!r}")
    for variable, attribute in re.findall(r"\b(\w+)\.(\w+)\b", source):
        if variable in components and attribute not in RESOURCES[components[variable]]["properties"]:
            problems.append(f"{variable}.{attribute}: {components[variable]} has no output {attribute}")
    return problems


@pytest.fixture(scope="module")
def typescript_source() -> str:
    return (EXAMPLES / "typescript" / "index.ts").read_text()


def test_the_typescript_program_agrees_with_the_served_schema(typescript_source: str) -> None:
    assert 'from "@pulumi/healthimaging"' in typescript_source
    assert len(NEW_COMPONENT.findall(typescript_source)) == 3
    assert typescript_problems(typescript_source) == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("noncurrentVersionExpirationDays: 30", "noncurrentVersionExpirationDays: true", "expected an integer"),
        ('namePrefix: "ahi-ts"', 'namePrefx: "ahi-ts"', "required input namePrefix"),
        ("datastoreArn: datastore.datastoreArn", "datastoreArn: datastore.arn", "no output arn"),
        ('datastoreName: "ahi-ts",', 'datastoreName: "ahi-ts", kmsKeyArn: buckets.kmsKeyArn,', "plain input"),
        ("export const datastoreId = datastore.datastoreId", "export const datastoreId = datastore.id", "no output id"),
    ],
)
def test_the_typescript_check_finds_mistakes(typescript_source: str, old: str, new: str, expected: str) -> None:
    assert old in typescript_source
    problems = typescript_problems(typescript_source.replace(old, new))
    assert any(expected in problem for problem in problems), problems


def test_the_typescript_project_depends_on_the_generated_sdk() -> None:
    package = json.loads((EXAMPLES / "typescript" / "package.json").read_text())
    assert package["dependencies"]["@pulumi/healthimaging"] == "file:sdks/healthimaging"
    project = yaml.safe_load((EXAMPLES / "typescript" / "Pulumi.yaml").read_text())
    assert project["packages"]["healthimaging"].endswith("/provider@v" + SCHEMA["version"])


@pytest.mark.parametrize("example", ["yaml", "typescript", "python", "identity-center"])
def test_every_example_has_a_readme(example: str) -> None:
    readme = EXAMPLES / example / "README.md"
    assert readme.is_file()
    assert len(readme.read_text().split()) > 50


def test_examples_pin_the_current_release() -> None:
    for path in Path(EXAMPLES).rglob("*"):
        if path.is_file() and path.suffix in {".yaml", ".md", ".txt", ".json"}:
            for pinned in re.findall(r"@v(\d+\.\d+\.\d+)", path.read_text()):
                assert pinned == SCHEMA["version"], f"{path.relative_to(PROJECT_DIR)} pins v{pinned}"
