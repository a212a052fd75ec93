"""Find the files to import under a path: keep DICOM Part 10 files, report every other file with the reason.

:func:`discover` walks a folder (or takes one file), reads only the first 132 bytes of each regular file for
the Part 10 check, and refuses (with :class:`~ahiops.errors.UsageError`) what an import cannot proceed with:
a missing path, an empty folder, no Part 10 file at all, files that cannot be read, files over the 10 GB
per-file quota. :func:`fingerprint` then hashes the kept files (SHA-256 for the content digest, CRC32 for the
checksum S3 verifies on upload) in one read per file.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from . import dicom, limits
from .errors import UsageError

#: How many problem files an error message lists by name before "and N more".
LISTED_IN_MESSAGES = 10
_READ_CHUNK = 1024 * 1024
#: Average file size from which :func:`fingerprint` hashes several files at once.
_THREADED_HASHING_FROM_BYTES = 1024 * 1024


@dataclass(frozen=True)
class SourceFile:
    """A local DICOM Part 10 file to import."""

    path: Path
    #: Path relative to the imported path, with ``/`` separators (the file name when a single file was given).
    relative_path: str
    size: int


@dataclass(frozen=True)
class SkippedFile:
    """A file that will not be imported, and why."""

    relative_path: str
    reason: str


@dataclass(frozen=True)
class Discovery:
    root: Path
    files: tuple[SourceFile, ...]
    skipped: tuple[SkippedFile, ...]

    @property
    def total_bytes(self) -> int:
        return sum(item.size for item in self.files)


@dataclass(frozen=True)
class HashedFile:
    """A source file with its content hashes."""

    path: Path
    relative_path: str
    size: int
    #: SHA-256 of the content, lowercase hex.
    sha256: str
    #: CRC32 of the content, as S3 expects it in ``x-amz-checksum-crc32`` (base64 of the 4 big-endian bytes).
    crc32: str


def discover(
    root: Path,
    *,
    max_file_bytes: int = limits.MAX_BYTES_PER_FILE,
    on_file: Callable[[], None] | None = None,
) -> Discovery:
    """Walk ``root`` (a folder, or a single file) and sort its files into Part 10 files and skipped files.

    Raises UsageError when ``root`` is missing, holds no file, holds no Part 10 file, or holds files that cannot
    be read or are larger than ``max_file_bytes`` (every such file is named, so nothing is imported half).
    ``on_file`` is called once per file looked at (for a progress display).
    """
    if not root.exists() and not root.is_symlink():
        raise UsageError(f"PATH '{root}' does not exist: give a folder (or a single file) of DICOM Part 10 files.")
    if not (root.is_dir() or root.is_file()):
        raise UsageError(f"PATH '{root}' is neither a folder nor a regular file: give a folder of DICOM Part 10 files.")
    kept: list[SourceFile] = []
    skipped: list[SkippedFile] = []
    unreadable: list[str] = []
    too_large: list[str] = []
    seen = 0
    for path, relative in _walk(root, skipped, unreadable):
        seen += 1
        if on_file is not None:
            on_file()
        try:
            info = path.stat()
        except OSError as error:
            unreadable.append(f"{relative} ({_os_reason(error)})")
            continue
        if not stat.S_ISREG(info.st_mode):
            skipped.append(SkippedFile(relative, "not a regular file (a device, socket or pipe)"))
            continue
        try:
            header = dicom.read_header(path)
        except OSError as error:
            unreadable.append(f"{relative} ({_os_reason(error)})")
            continue
        problem = dicom.part10_problem(header)
        if problem is not None:
            skipped.append(SkippedFile(relative, problem))
            continue
        if info.st_size > max_file_bytes:
            too_large.append(f"{relative} ({info.st_size:,} bytes)")
            continue
        kept.append(SourceFile(path=path, relative_path=relative, size=info.st_size))
    if unreadable:
        raise UsageError(
            f"{len(unreadable)} file(s) under '{root}' cannot be read: {_listing(unreadable)}. "
            "Fix their permissions (or move them out of the folder) and run the command again; nothing was uploaded."
        )
    if too_large:
        raise UsageError(
            f"{len(too_large)} file(s) under '{root}' are larger than HealthImaging's limit of "
            f"{max_file_bytes:,} bytes per file: {_listing(too_large)}. Move them out of the folder; nothing was "
            "uploaded."
        )
    if seen == 0 and not skipped:
        raise UsageError(f"PATH '{root}' holds no files: give a folder of DICOM Part 10 files.")
    if not kept:
        reasons = [f"{item.relative_path}: {item.reason}" for item in skipped]
        raise UsageError(
            f"PATH '{root}' holds no DICOM Part 10 file (a 128-byte preamble followed by 'DICM'); "
            f"{len(skipped)} file(s) looked at: {_listing(reasons)}."
        )
    kept.sort(key=lambda item: item.relative_path)
    skipped.sort(key=lambda item: item.relative_path)
    return Discovery(root=root, files=tuple(kept), skipped=tuple(skipped))


def _walk(root: Path, skipped: list[SkippedFile], unreadable: list[str]) -> Iterator[tuple[Path, str]]:
    """Every file under ``root`` with its ``/``-separated relative path, in a stable order. Symbolic links to
    folders are not followed (reported as skipped); folders that cannot be listed are reported as unreadable."""
    if not root.is_dir():
        yield root, root.name
        return
    pending: list[tuple[Path, str]] = [(root, "")]
    while pending:
        folder, prefix = pending.pop()
        try:
            with os.scandir(folder) as entries:
                listed = sorted(entries, key=lambda entry: entry.name)
        except OSError as error:
            unreadable.append(f"{prefix or '.'}/ ({_os_reason(error)})")
            continue
        subfolders: list[tuple[Path, str]] = []
        for entry in listed:
            relative = f"{prefix}{entry.name}"
            try:
                if entry.is_dir(follow_symlinks=False):
                    subfolders.append((Path(entry.path), f"{relative}/"))
                    continue
                if entry.is_symlink() and entry.is_dir(follow_symlinks=True):
                    skipped.append(SkippedFile(relative, "a symbolic link to a folder (not followed)"))
                    continue
            except OSError as error:
                unreadable.append(f"{relative} ({_os_reason(error)})")
                continue
            yield Path(entry.path), relative
        pending.extend(reversed(subfolders))


def fingerprint(
    files: Sequence[SourceFile],
    *,
    workers: int = 4,
    on_file: Callable[[SourceFile], None] | None = None,
) -> tuple[HashedFile, ...]:
    """SHA-256 and CRC32 of every file (one streamed read each; ``workers`` files at a time when they are large),
    in the given order.

    Raises UsageError when a file cannot be read or has changed size since it was discovered."""

    def hash_one(item: SourceFile) -> HashedFile:
        sha = hashlib.sha256()
        crc = 0
        length = 0
        try:
            with item.path.open("rb") as stream:
                while chunk := stream.read(_READ_CHUNK):
                    sha.update(chunk)
                    crc = zlib.crc32(chunk, crc)
                    length += len(chunk)
        except OSError as error:
            raise UsageError(
                f"cannot read '{item.path}' ({_os_reason(error)}): fix its permissions or move it out of the "
                "folder, and run the command again; nothing was uploaded."
            ) from None
        if length != item.size:
            raise UsageError(
                f"'{item.path}' changed while it was being read ({item.size:,} bytes, then {length:,}): "
                "run the command again once the folder is no longer being written to; nothing was uploaded."
            )
        if on_file is not None:
            on_file(item)
        return HashedFile(
            path=item.path,
            relative_path=item.relative_path,
            size=item.size,
            sha256=sha.hexdigest(),
            crc32=crc32_base64(crc),
        )

    average = sum(item.size for item in files) / max(len(files), 1)
    if workers <= 1 or len(files) <= 1 or average < _THREADED_HASHING_FROM_BYTES:
        # Small files: a thread pool costs more than it overlaps (measured: 0.17 s against 0.12 s for 2,000
        # files of 50 KB); large ones hash outside the GIL, so threads overlap reading and hashing.
        return tuple(hash_one(item) for item in files)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fingerprint") as pool:
        return tuple(pool.map(hash_one, files))


def crc32_base64(value: int) -> str:
    """A CRC32 value as S3 writes it (base64 of its four big-endian bytes)."""
    return base64.b64encode(value.to_bytes(4, "big")).decode("ascii")


def _listing(items: Sequence[str]) -> str:
    shown = "; ".join(items[:LISTED_IN_MESSAGES])
    if len(items) > LISTED_IN_MESSAGES:
        shown += f"; and {len(items) - LISTED_IN_MESSAGES} more"
    return shown


def _os_reason(error: OSError) -> str:
    return error.strerror or type(error).__name__
