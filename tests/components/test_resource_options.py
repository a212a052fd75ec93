"""A caller's resource options reach every child; a component can only add protection (never remove it)."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from ahictl.mockrun import ProgramRun
from components import ImagingBucketPair, ImagingDatastore, ImportJobRole
from testkit.mock_runs import DEV_ACCOUNT, DEV_REGION, run_component, run_program

DATASTORE = "aws-native:healthimaging:Datastore"
CALLER_PROTECTS = pulumi.ResourceOptions(protect=True, retain_on_delete=True)


def children(run: ProgramRun) -> list[Any]:
    return [r for r in run.resources if r.custom and not r.type.startswith("pulumi:providers:")]


def test_import_role_keeps_the_callers_protect_and_retain_on_delete() -> None:
    def build() -> None:
        ImportJobRole(
            "role",
            {
                "account_id": DEV_ACCOUNT,
                "region": DEV_REGION,
                "datastore_arn": f"arn:aws:medical-imaging:{DEV_REGION}:{DEV_ACCOUNT}:datastore/{'a' * 32}",
                "input_bucket_arn": "arn:aws:s3:::in",
                "output_bucket_arn": "arn:aws:s3:::out",
                "role_name": "r",
            },
            CALLER_PROTECTS,
        )

    resources = children(run_component(build))
    assert {r.type for r in resources} == {"aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy"}
    for resource in resources:
        assert (resource.protect, resource.retain_on_delete) == (True, True), resource.name


def test_bucket_pair_without_data_protection_still_keeps_the_callers_protection() -> None:
    def build() -> None:
        ImagingBucketPair(
            "pair",
            {"account_id": DEV_ACCOUNT, "region": DEV_REGION, "name_prefix": "ahi-t", "protect_data": False},
            CALLER_PROTECTS,
        )

    resources = children(run_component(build))
    # Buckets, their controls and nested components' children: every one of them, however deep.
    assert len(resources) > 20
    for resource in resources:
        assert (resource.protect, resource.retain_on_delete) == (True, True), resource.name


def test_a_component_adds_protection_where_its_caller_gave_none() -> None:
    def build() -> None:
        ImagingDatastore("store", {"account_id": DEV_ACCOUNT, "region": DEV_REGION, "datastore_name": "s"})

    run = run_component(build)
    assert (run.one(DATASTORE).protect, run.one(DATASTORE).retain_on_delete) == (True, True)


def test_without_protection_anywhere_children_are_neither_protected_nor_retained() -> None:
    def build() -> None:
        ImagingDatastore(
            "store", {"account_id": DEV_ACCOUNT, "region": DEV_REGION, "datastore_name": "s", "protect_data": False}
        )

    for resource in children(run_component(build)):
        assert (resource.protect, resource.retain_on_delete) == (False, False), resource.name


# --- allowDatastoreReplacement does what it says --------------------------------------------------


@pytest.fixture(scope="module")
def replaceable() -> ProgramRun:
    return run_program(allowDatastoreReplacement=True)


def test_a_replaceable_data_store_is_not_protected_so_pulumi_can_replace_it(replaceable: ProgramRun) -> None:
    store = replaceable.one(DATASTORE)
    assert store.protect is False
    assert store.ignore_changes == []


def test_the_replaced_data_store_is_retained_with_its_image_sets(replaceable: ProgramRun) -> None:
    assert replaceable.one(DATASTORE).retain_on_delete is True


def test_replacement_leaves_the_keys_and_buckets_protected(replaceable: ProgramRun) -> None:
    for type_ in ("aws:kms/key:Key", "aws:s3/bucket:Bucket"):
        for resource in replaceable.by_type(type_):
            assert (resource.protect, resource.retain_on_delete) == (True, True), resource.name


def test_replacement_warns_that_the_new_data_store_is_empty(replaceable: ProgramRun) -> None:
    assert any("creates a new, EMPTY data store" in w for w in replaceable.warnings)
