"""Parsing this repository's Python source safely: the one place that calls :func:`ast.parse`.

On CPython 3.11, ``ast.parse`` keeps its recursion depth in interpreter-wide state. When the cyclic garbage collector
runs in the middle of a parse and a finalizer formats a traceback (an asyncio future whose exception nobody
retrieved does exactly that; 3.11's traceback module parses the failing line to place its carets), the nested parse
corrupts that state and the outer one fails with "SystemError: AST constructor recursion depth mismatch". So the
collector is paused for the parse, and parses from several threads take turns.
"""

from __future__ import annotations

import ast
import functools
import gc
import threading
from pathlib import Path

_PARSE_LOCK = threading.Lock()


def parse_source(source: str, filename: str = "<unknown>") -> ast.Module:
    """The syntax tree of ``source``, parsed with the collector paused (see the module docstring)."""
    with _PARSE_LOCK:
        collecting = gc.isenabled()
        gc.disable()
        try:
            return ast.parse(source, filename=filename)
        finally:
            if collecting:
                gc.enable()


@functools.cache
def parsed_file(path: Path) -> ast.Module:
    """The syntax tree of one source file, parsed once per process."""
    return parse_source(path.read_text(), str(path))
