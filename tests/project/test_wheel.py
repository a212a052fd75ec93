"""The Python route: the wheel a consumer's ``pip install "healthimaging-setup @ git+<repository>@v<version>"``
builds, installed outside the checkout, constructs a component under Pulumi's mocks.

Offline: the wheel is built with the setuptools of this venv (``--no-build-isolation --no-index``) from a copy
of the repository's root files and ``components/``, installed with ``--no-deps --no-index`` into an empty
target directory, and used by a consumer program that runs in another empty directory with only that target
on top of this venv's packages (pulumi, pulumi-aws, pulumi-aws-native: the dependencies the wheel declares,
whose ranges are checked against the versions installed here).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from testkit.mock_runs import PROJECT_DIR

#: What a clone of the repository has at its root besides components/ (the program's own files among them): none of
#: it may end up in the wheel.
ROOT_FILES = ("pyproject.toml", "__main__.py")
ROOT_PACKAGES = ("components", "program", "ahictl", "provider", "healthimaging_functions", "ahiops")
#: Top-level packages of the wheel: the components, and what ImportJobAlerts imports and archives beside them.
WHEEL_PACKAGES = {"healthimaging_setup", "healthimaging_functions", "ahiops"}
TIMEOUT = 300
PIP = [sys.executable, "-m", "pip", "--quiet", "--disable-pip-version-check"]

CONSUMER_PROGRAM = """
import importlib.util
import json
import sys

# The checkout must not be visible: only the installed package is.
assert importlib.util.find_spec("components") is None, "the checkout's components/ is importable"

import pulumi
import healthimaging_setup
from healthimaging_setup import ImagingBucketPair, InvalidInputError

registered = []


class Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args):
        registered.append(args.typ)
        outputs = dict(args.inputs)
        if args.typ == "aws:s3/bucket:Bucket":
            outputs["arn"] = "arn:aws:s3:::" + args.inputs["bucket"]
        if args.typ == "aws:kms/key:Key":
            outputs["arn"] = "arn:aws:kms:us-east-1:111122223333:key/" + args.name
            outputs["keyId"] = args.name
        return args.name + "-id", outputs

    def call(self, args):
        return {}


pulumi.runtime.set_mocks(Mocks(), project="consumer", stack="dev", preview=False)
result = {"module": healthimaging_setup.__file__}


@pulumi.runtime.test
def build():
    try:
        ImagingBucketPair("bad", {"account_id": "1234", "region": "us-east-1", "name_prefix": "consumer"})
    except InvalidInputError as error:
        result["refused"] = error.problems
    pair = ImagingBucketPair(
        "imaging",
        {
            "account_id": "111122223333",
            "region": "us-east-1",
            "name_prefix": "consumer",
            "noncurrent_version_expiration_days": 30.0,
        },
    )

    def record(values):
        result["input_bucket_name"], result["kms_key_arn"] = values

    return pulumi.Output.all(pair.input_bucket_name, pair.kms_key_arn).apply(record)


build()
result["registered"] = sorted(registered)
json.dump(result, sys.stdout)
"""


EXAMPLE_RUNNER = """
import json
import runpy
import sys

import pulumi
from pulumi.runtime.stack import wait_for_rpcs
from pulumi.runtime.sync_await import _sync_await

registered = {}


class Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args):
        outputs = dict(args.inputs)
        if args.typ == "aws:s3/bucket:Bucket":
            outputs["arn"] = "arn:aws:s3:::" + args.inputs["bucket"]
        if args.typ == "aws:kms/key:Key":
            outputs["arn"] = "arn:aws:kms:us-east-1:111122223333:key/" + args.name
            outputs["keyId"] = args.name
        if args.typ == "aws-native:healthimaging:Datastore":
            outputs["datastoreId"] = "0123456789abcdef0123456789abcdef"
            outputs["datastoreArn"] = "arn:aws:medical-imaging:us-east-1:111122223333:datastore/" + outputs["datastoreId"]
        if args.typ == "aws:iam/role:Role":
            outputs["arn"] = "arn:aws:iam::111122223333:role/" + args.inputs["name"]
        registered[args.typ + "::" + args.name] = {"type": args.typ, "inputs": args.inputs}
        return args.name + "-id", outputs

    def call(self, args):
        return {}


pulumi.runtime.set_mocks(Mocks(), project="healthimaging-python-example", stack="dev", preview=False)
pulumi.runtime.set_all_config({"healthimaging-python-example:accountId": "111122223333"})
runpy.run_path(sys.argv[1], run_name="__main__")
_sync_await(wait_for_rpcs())
json.dump(registered, sys.stdout)
"""


@dataclass
class InstalledWheel:
    wheel: Path
    target: Path
    consumer_dir: Path


def _run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, check=False, **kwargs)  # type: ignore[call-overload]
    assert completed.returncode == 0, f"{command} failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
    return completed


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> InstalledWheel:
    work = tmp_path_factory.mktemp("wheel")
    source = work / "repository"
    source.mkdir()
    for name in ROOT_FILES:
        shutil.copy2(PROJECT_DIR / name, source / name)
    for package in ROOT_PACKAGES:
        shutil.copytree(PROJECT_DIR / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    dist = work / "dist"
    _run([*PIP, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "--wheel-dir", str(dist), str(source)])
    (wheel,) = dist.glob("healthimaging_setup-*.whl")
    target = work / "site"
    _run([*PIP, "install", "--no-deps", "--no-index", "--target", str(target), str(wheel)])
    consumer_dir = work / "consumer"
    consumer_dir.mkdir()
    return InstalledWheel(wheel=wheel, target=target, consumer_dir=consumer_dir)


def test_the_wheel_holds_the_components_under_their_import_name(installed: InstalledWheel) -> None:
    names = zipfile.ZipFile(installed.wheel).namelist()
    top_level = {name.split("/", 1)[0] for name in names}
    assert {t for t in top_level if not t.endswith(".dist-info")} == WHEEL_PACKAGES
    expected = {
        "healthimaging_setup/" + str(path.relative_to(PROJECT_DIR / "components"))
        for path in (PROJECT_DIR / "components").rglob("*.py")
    }
    missing = expected - set(names)
    assert not missing, (
        f"modules of components/ missing from the wheel (list new packages in pyproject.toml): {missing}"
    )
    assert "healthimaging_setup/py.typed" in names
    assert (installed.target / "healthimaging_setup" / "py.typed").is_file()


def test_the_declared_dependency_ranges_hold_the_tested_versions(installed: InstalledWheel) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        (metadata_name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
        lines = wheel.read(metadata_name).decode().splitlines()
    requirements = [Requirement(line.split(":", 1)[1].strip()) for line in lines if line.startswith("Requires-Dist:")]
    assert {r.name for r in requirements} == {"pulumi", "pulumi-aws", "pulumi-aws-native", "boto3"}
    pinned = dict(
        line.split("==", 1) for line in (PROJECT_DIR / "requirements.txt").read_text().split() if "==" in line
    )
    for requirement in requirements:
        installed_version = metadata.version(requirement.name)
        assert requirement.specifier.contains(installed_version), (requirement, installed_version)
        assert requirement.specifier.contains(pinned[requirement.name]), (requirement, pinned[requirement.name])
    assert any(line == "Name: healthimaging-setup" for line in lines)


def test_a_consumer_outside_the_checkout_constructs_a_component(installed: InstalledWheel) -> None:
    program = installed.consumer_dir / "consumer.py"
    program.write_text(CONSUMER_PROGRAM)
    env = {key: value for key, value in os.environ.items() if key not in {"PYTHONPATH", "PYTHONHOME"}}
    env["PYTHONPATH"] = str(installed.target)
    completed = _run([sys.executable, "-P", str(program)], cwd=installed.consumer_dir, env=env)
    result = json.loads(completed.stdout)

    assert Path(result["module"]).is_relative_to(installed.target)
    assert result["input_bucket_name"] == "consumer-input-111122223333-us-east-1-an"
    assert result["kms_key_arn"].startswith("arn:aws:kms:us-east-1:111122223333:key/")
    assert result["registered"].count("aws:s3/bucket:Bucket") == 3
    assert "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration" in result["registered"]
    assert "healthimaging:index:ImagingBucketPair" in result["registered"]
    assert any("account_id = '1234'" in problem for problem in result["refused"])


def test_the_python_example_runs_against_the_installed_package(installed: InstalledWheel) -> None:
    runner = installed.consumer_dir / "run_example.py"
    runner.write_text(EXAMPLE_RUNNER)
    example = installed.consumer_dir / "example"
    shutil.copytree(PROJECT_DIR / "examples" / "python", example)
    env = {key: value for key, value in os.environ.items() if key not in {"PYTHONPATH", "PYTHONHOME"}}
    env["PYTHONPATH"] = str(installed.target)
    completed = _run([sys.executable, "-P", str(runner), str(example / "__main__.py")], cwd=example, env=env)
    registered = json.loads(completed.stdout)

    types = sorted({resource["type"] for resource in registered.values()})
    assert {
        "healthimaging:index:ImagingBucketPair",
        "healthimaging:index:ImagingDatastore",
        "healthimaging:index:ImportJobRole",
        "aws-native:healthimaging:Datastore",
    } <= set(types)
    role = registered["aws:iam/role:Role::import-role"]["inputs"]
    assert role["name"] == "ahi-py-ImportJobDataAccessRole"
    assert "0123456789abcdef0123456789abcdef" in role["assumeRolePolicy"]
