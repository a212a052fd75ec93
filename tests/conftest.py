"""Shared fixtures."""

from __future__ import annotations

import pytest
from helpers import run_program

from ahictl import mockrun


@pytest.fixture(scope="module")
def dev_run() -> mockrun.ProgramRun:
    """One run of the program with Pulumi.dev.yaml, shared by the read-only tests of a module."""
    return run_program()
