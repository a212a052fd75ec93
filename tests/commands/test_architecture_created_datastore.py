"""The architecture view of a stack whose data store the creator function makes: the invocation is drawn as the data
store, with its options and the creator (function, role, key, log group) folded in, and everything that names the
data store points at it."""

from __future__ import annotations

import pytest

from ahictl import architecture
from ahictl import plan as plan_module
from ahictl.architecture import Architecture, Node
from testkit.mock_runs import DEV_ACCOUNT, DEV_REGION, run_program


@pytest.fixture(scope="module")
def view() -> Architecture:
    run = run_program(datastoreLosslessStorageFormat="JPEG_2000_LOSSLESS", importAlerts=True)
    return architecture.architecture(plan_module.build_plan(run, account_id=DEV_ACCOUNT, region=DEV_REGION))


def node(view: Architecture, title_start: str) -> Node:
    [found] = [n for n in view.nodes if n.title.startswith(title_start)]
    return found


def test_the_created_data_store_is_one_data_store_node_with_its_format(view: Architecture) -> None:
    store = node(view, "HealthImaging data store")
    assert store.icon == "datastore"
    assert (store.title, store.name) == ("HealthImaging data store", "ahi-dev-datastore")
    assert "JPEG_2000_LOSSLESS" in store.tags
    assert store.protected


def test_the_data_store_holds_its_creator_and_is_named_by_the_others(view: Architecture) -> None:
    found = node(view, "HealthImaging data store")
    store = found.id
    assert "created by a function (creation-time options)" in found.tags
    assert not [n for n in view.nodes if n.name == "ahi-dev-datastore-creator"], "the creator is in the data store"
    assert len(found.resources) == 7, "the invocation, the function, its role and policy, its key and alias, its logs"
    edges = {(e.source, e.target): e.label for e in view.edges}
    reader = next(n.id for n in view.nodes if n.name == "ahi-dev-reader")
    assert edges[(reader, store)] == "reads"
    role = next(n.id for n in view.nodes if n.name == "ahi-dev-ImportJobDataAccessRole")
    assert edges[(store, role)] == "assumes"
