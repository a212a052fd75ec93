"""Each stack key reaches exactly the component arguments its ``feeds`` and ``derives`` name: the mapping
(program/component_args.py) is run with a distinctive value for the key; each fed argument must carry it, and every
argument of every component that changes must be one the key feeds or derives."""

from __future__ import annotations

import json
from typing import Any

import pytest

from program import component_args
from program.settings import read_settings
from program.settings_spec import SETTINGS_SPEC, SPEC_BY_KEY, Setting, StackSettings
from testkit.mock_runs import EVERY_OPTIONAL_COMPONENT

BASE = {"accountId": "111122223333", "region": "us-east-1"}
#: Every optional component on, so that each one's arguments are built.
ALL_ON = EVERY_OPTIONAL_COMPONENT
FEEDING = [s for s in SETTINGS_SPEC if s.feeds]


def distinctive_values(setting: Setting) -> list[Any]:
    """Values of the key's type that no default and no other key has (both values of a boolean)."""
    if setting.type == "boolean":
        return [True, False]
    if setting.type == "integer":
        return [4217]
    if setting.type == "array":
        return [[f"{setting.key}-first", f"{setting.key}-second"]]
    if setting.key == "dicomwebOidc":  # its fields reach the viewer's arguments
        return [
            {
                "issuer": "https://dicomweboidc-value.example.org",
                "audiences": ["dicomwebOidc-value"],
                "personas": {"reader": ["dicomwebOidc-value"]},
            }
        ]
    if setting.type == "object":
        return [{"reader": [f"{setting.key}-value"]}]
    return ["987654321098"] if setting.key == "accountId" else [f"{setting.key.lower()}-value"]


def settings_with(key: str, value: Any) -> StackSettings:
    raw = {**BASE, **ALL_ON}
    raw[key] = json.dumps(value) if isinstance(value, (bool, list, dict)) else str(value)
    settings, _ = read_settings("healthimaging-setup", "dev", raw.get)  # the mapping, not the rules, is under test
    return settings


def every_argument(settings: StackSettings) -> dict[str, Any]:
    """Every plain argument of every component, included or not, as ``<component>.<argument>``."""
    return {
        f"{component}.{argument}": value
        for component, plain in component_args.PLAIN_ARGS.items()
        for argument, value in plain(settings).items()
    }


ABSENT = object()


def arguments_changed_by(key: str) -> set[str]:
    """The arguments that differ from the base stack's when ``key`` takes each of its distinctive values."""
    base = every_argument(settings_with("importAlerts", True))  # ALL_ON's own value: the base stack
    changed: set[str] = set()
    for value in distinctive_values(SPEC_BY_KEY[key]):
        arguments = every_argument(settings_with(key, value))
        changed |= {a for a in base.keys() | arguments.keys() if arguments.get(a, ABSENT) != base.get(a, ABSENT)}
    return changed


@pytest.mark.parametrize("setting", FEEDING, ids=lambda s: s.key)
def test_a_key_reaches_every_argument_it_feeds_with_its_value(setting: Setting) -> None:
    for value in distinctive_values(setting):
        settings = settings_with(setting.key, value)
        for feed in setting.feeds:
            component, _, argument = feed.partition(".")
            arguments = component_args.PLAIN_ARGS[component](settings)
            assert argument in arguments, f"{setting.key} feeds {feed}, which the mapping does not pass"
            assert arguments[argument] == value, f"{setting.key} = {value!r} reaches {feed} as {arguments[argument]!r}"


def test_the_feeds_cover_every_component_the_stack_can_compose() -> None:
    fed = {feed.partition(".")[0] for s in SETTINGS_SPEC for feed in s.feeds}
    assert fed == set(component_args.PLAIN_ARGS)
    assert component_args.included_components(settings_with("versioning", True)) == list(component_args.PLAIN_ARGS)


@pytest.mark.parametrize("disposable", [True, False])
def test_disposable_stack_feeds_no_argument_but_every_components_protection(disposable: bool) -> None:
    settings = settings_with("disposableStack", disposable)
    protected = {c: plain(settings).get("protect_data") for c, plain in component_args.PLAIN_ARGS.items()}
    assert {c: p for c, p in protected.items() if p is not None} == {
        "bucket_pair": not disposable,
        "datastore": not disposable,
        "import_alerts": not disposable,
        "audit_trail": not disposable,
        "auto_import": not disposable,
        "viewer": not disposable,
    }


@pytest.mark.parametrize(("key", "component"), [("importAlerts", "import_alerts"), ("auditTrail", "audit_trail")])
def test_a_switch_that_feeds_no_argument_leaves_its_component_out(key: str, component: str) -> None:
    assert not SPEC_BY_KEY[key].feeds
    assert component in component_args.included_components(settings_with(key, True))
    assert component not in component_args.included_components(settings_with(key, False))


@pytest.mark.parametrize("setting", SETTINGS_SPEC, ids=lambda s: s.key)
def test_a_key_changes_no_argument_it_neither_feeds_nor_derives(setting: Setting) -> None:
    undeclared = arguments_changed_by(setting.key) - set(setting.feeds) - set(setting.derives)
    assert not undeclared, f"{setting.key} changes {sorted(undeclared)}: add them to its feeds or derives"


@pytest.mark.parametrize("setting", [s for s in SETTINGS_SPEC if s.derives], ids=lambda s: s.key)
def test_every_argument_a_key_derives_changes_with_it(setting: Setting) -> None:
    unchanged = set(setting.derives) - arguments_changed_by(setting.key)
    assert not unchanged, f"{setting.key} derives {sorted(unchanged)}, which do not change with it"


def test_an_argument_a_key_feeds_is_not_also_one_it_derives() -> None:
    assert [s.key for s in SETTINGS_SPEC if set(s.feeds) & set(s.derives)] == []
