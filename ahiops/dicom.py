"""The DICOM Part 10 check HealthImaging applies to every input file, done locally before anything is uploaded.

A Part 10 file starts with a 128-byte preamble followed by the four bytes ``DICM`` (DICOM PS3.10, section 7.1).
Only those 132 bytes are read, so the check costs one small read per file whatever the file's size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

PREAMBLE_LENGTH: Final = 128
MAGIC: Final = b"DICM"
HEADER_LENGTH: Final = PREAMBLE_LENGTH + len(MAGIC)


def part10_problem(header: bytes) -> str | None:
    """Why ``header`` (a file's first bytes, at least 132 of them when the file is that long) is not the start of
    a DICOM Part 10 file, or None when it is."""
    if len(header) < HEADER_LENGTH:
        return (
            f"not a DICOM Part 10 file: {len(header)} bytes long, shorter than the 128-byte preamble and 'DICM' "
            "marker that HealthImaging requires"
        )
    if header[PREAMBLE_LENGTH:HEADER_LENGTH] != MAGIC:
        return (
            "not a DICOM Part 10 file: no 'DICM' marker after the 128-byte preamble (HealthImaging imports only "
            "Part 10 files; a DICOM data set without the file meta header must be rewritten as Part 10 first)"
        )
    return None


def read_header(path: Path) -> bytes:
    """The first :data:`HEADER_LENGTH` bytes of ``path`` (fewer when the file is shorter). Raises OSError."""
    with path.open("rb") as stream:
        return stream.read(HEADER_LENGTH)


def is_part10(path: Path) -> bool:
    """Whether ``path`` starts like a DICOM Part 10 file. Raises OSError when the file cannot be read."""
    return part10_problem(read_header(path)) is None
