"""The architecture view of a stack whose data store the creator function makes: the invocation is drawn as the data
store, with its options, "created by" the function, and everything that names the data store points at it."""

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
    assert store.title == "HealthImaging data store ahi-dev-datastore"
    assert "JPEG_2000_LOSSLESS" in store.tags
    assert store.protected


def test_the_data_store_is_created_by_the_function_and_named_by_the_others(view: Architecture) -> None:
    store = node(view, "HealthImaging data store").id
    creator = next(n.id for n in view.nodes if n.name == "ahi-dev-datastore-creator" and n.icon == "function")
    edges = {(e.source, e.target): e.label for e in view.edges}
    assert edges[(store, creator)] == "created by"
    reader = next(n.id for n in view.nodes if n.name == "ahi-dev-reader")
    assert edges[(reader, store)] == "reads"
    role = next(n.id for n in view.nodes if n.name == "ahi-dev-ImportJobDataAccessRole")
    assert edges[(store, role)] == "assumes"
