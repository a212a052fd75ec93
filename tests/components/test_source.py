"""Parsing source while the garbage collector runs finalizers that format tracebacks (components/_source.py)."""

from __future__ import annotations

import ast
import gc
import sys
import traceback
from collections.abc import Callable, Iterator

import pytest

from components._source import parse_source
from testkit.mock_runs import PROJECT_DIR

SOURCE = (PROJECT_DIR / "sandbox" / "healthimaging.py").read_text()


def _failed_lookup() -> Exception:
    try:
        {"a": 1}["b"]
    except KeyError as error:
        return error
    raise AssertionError("unreachable")


class _FormatsATracebackWhenCollected:
    """Like an asyncio future whose exception nobody retrieved: in a reference cycle, and its finalizer formats a
    traceback (which on CPython 3.11 parses the failing line)."""

    def __init__(self) -> None:
        self.cycle = self
        self.error = _failed_lookup()

    def __del__(self) -> None:
        traceback.format_exception(self.error)


@pytest.fixture
def collector_busy_with_finalizers() -> Iterator[Callable[[], None]]:
    thresholds = gc.get_threshold()
    gc.set_threshold(50, 1, 1)

    def make_garbage() -> None:
        for _ in range(200):
            _FormatsATracebackWhenCollected()

    try:
        yield make_garbage
    finally:
        gc.set_threshold(*thresholds)
        gc.collect()


def _failures(parse: Callable[[str], object], make_garbage: Callable[[], None], rounds: int = 40) -> int:
    failures = 0
    for _ in range(rounds):
        make_garbage()
        try:
            parse(SOURCE)
        except SystemError:
            failures += 1
    return failures


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="the nested parse breaks ast.parse on CPython 3.11")
def test_a_plain_parse_fails_when_a_finalizer_parses_in_the_middle(
    collector_busy_with_finalizers: Callable[[], None],
) -> None:
    assert _failures(ast.parse, collector_busy_with_finalizers) > 0


def test_the_projects_parse_holds_when_a_finalizer_parses_in_the_middle(
    collector_busy_with_finalizers: Callable[[], None],
) -> None:
    assert _failures(parse_source, collector_busy_with_finalizers) == 0
    assert gc.isenabled()


def test_the_collector_stays_off_when_it_was_off() -> None:
    gc.disable()
    try:
        parse_source("x = 1\n")
        assert not gc.isenabled()
    finally:
        gc.enable()
