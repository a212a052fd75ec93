"""Find the files to import under a path: keep DICOM Part 10 files, report every other file with the reason.

:func:`discover` walks a folder (or takes one file), reads only the first 132 bytes of each regular file for
the Part 10 check, and refuses (with :class:`~ahiops.errors.UsageError`) what an import cannot proceed with:
a missing path, an empty folder, no Part 10 file at all, files that cannot be read, files over the 10 GB
per-file quota. :func:`fingerprint` then reads each kept file once and computes its CRC64NVME, which serves twice:

- as the file's content fingerprint in the plan's digest (:mod:`ahiops.planning`), from which the S3 prefix and
  the import jobs' client tokens are derived;
- as the full-object checksum sent with the upload (``x-amz-checksum-crc64nvme``), which S3 checks against the
  bytes it receives, so an object is stored only if it holds exactly the bytes that were fingerprinted.

Why a CRC and not SHA-256: this read happens before the first byte is uploaded, so its cost adds to every
import's time. ``awscrt.checksums.crc64nvme`` runs at about 20 GB/s (SIMD) against SHA-256's 1.7 GB/s, and one
64-bit CRC does the work of a SHA-256 fingerprint plus a separate CRC32 for S3. The trade-off: a 64-bit CRC
detects accidental change (a different file, a truncated or edited one; two different files agree by chance
with a probability of about 2^-64), but it is not a cryptographic hash: someone can deliberately make a file
with the same size and CRC64NVME as another. Doing that here means writing files into the folder being
imported, that is, having write access to the user's own files, which no fingerprint of those files protects
against; S3 still verifies every object against the CRC64NVME of the bytes that were read.
"""

from __future__ import annotations

import base64
import errno
import os
import stat
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import dicom, limits
from .errors import OpsError, UsageError

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
    """A source file with its content fingerprint."""

    path: Path
    relative_path: str
    size: int
    #: CRC64NVME of the content as S3 writes it in ``x-amz-checksum-crc64nvme`` (base64 of the 8 big-endian
    #: bytes): the file's fingerprint in the plan's digest and the checksum S3 verifies the upload against.
    crc64nvme: str


def discover(
    root: Path,
    *,
    max_file_bytes: int = limits.MAX_BYTES_PER_FILE,
    on_file: Callable[[], None] | None = None,
    follow_links: bool = False,
) -> Discovery:
    """Walk ``root`` (a folder, or a single file) and sort its files into Part 10 files and skipped files.

    Raises UsageError when ``root`` is missing, holds no file, holds no Part 10 file, or holds files that cannot
    be read, are larger than ``max_file_bytes`` or have a name that is not valid UTF-8 (every such file is named, so
    nothing is imported half). ``on_file`` is called once per file looked at (for a progress display).

    Symbolic links (``root`` itself is followed: it was named): without ``follow_links`` none is followed, and each is
    reported as skipped with what it points to (a file or folder under ``root``, which is imported under its own path;
    something outside ``root``; nothing, for a dangling link; itself, for a loop). With ``follow_links`` links to
    files are read wherever they point and links to folders are walked, each folder at most once (no loops); a dangling
    or looping link is still skipped with its reason. Either way one bad link never stops the others, and a content met
    twice is imported once (:func:`distinct_contents`).
    """
    if not root.exists() and not root.is_symlink():
        raise UsageError(
            f"PATH '{printable(str(root))}' does not exist: give a folder (or a single file) of DICOM Part 10 files."
        )
    if not (root.is_dir() or root.is_file()):
        raise UsageError(
            f"PATH '{printable(str(root))}' is neither a folder nor a regular file: give a folder of DICOM Part 10 "
            "files."
        )
    kept: list[SourceFile] = []
    skipped: list[SkippedFile] = []
    unreadable: list[str] = []
    too_large: list[str] = []
    not_utf8: list[str] = []
    seen = 0
    for path, relative in _walk(root, skipped, unreadable, follow_links=follow_links):
        seen += 1
        if on_file is not None:
            on_file()
        try:
            info = path.stat()
        except OSError as error:
            unreadable.append(f"{printable(relative)} ({_os_reason(error)})")
            continue
        if not stat.S_ISREG(info.st_mode):
            skipped.append(SkippedFile(printable(relative), "not a regular file (a device, socket or pipe)"))
            continue
        try:
            header = dicom.read_header(path)
        except OSError as error:
            unreadable.append(f"{printable(relative)} ({_os_reason(error)})")
            continue
        problem = dicom.part10_problem(header)
        if problem is not None:
            skipped.append(SkippedFile(printable(relative), problem))
            continue
        if not _is_utf8(relative):
            not_utf8.append(printable(relative))
            continue
        if info.st_size > max_file_bytes:
            too_large.append(f"{relative} ({info.st_size:,} bytes)")
            continue
        kept.append(SourceFile(path=path, relative_path=relative, size=info.st_size))
    shown_root = printable(str(root))
    if unreadable:
        raise UsageError(
            f"{len(unreadable)} file(s) under '{shown_root}' cannot be read: {_listing(unreadable)}. "
            "Fix their permissions (or move them out of the folder) and run the command again; nothing was uploaded."
        )
    if not_utf8:
        raise UsageError(
            f"{len(not_utf8)} DICOM Part 10 file(s) under '{shown_root}' have a name that is not valid UTF-8 (shown "
            f"with \\x escapes): {_listing(not_utf8)}. S3 object keys are UTF-8: rename them (for example with "
            "`convmv -f latin1 -t utf-8 -r --notest PATH`) and run the command again; nothing was uploaded."
        )
    if too_large:
        raise UsageError(
            f"{len(too_large)} file(s) under '{shown_root}' are larger than HealthImaging's limit of "
            f"{max_file_bytes:,} bytes per file: {_listing(too_large)}. Move them out of the folder; nothing was "
            "uploaded."
        )
    if seen == 0 and not skipped:
        raise UsageError(f"PATH '{shown_root}' holds no files: give a folder of DICOM Part 10 files.")
    if not kept:
        reasons = [f"{item.relative_path}: {item.reason}" for item in skipped]
        raise UsageError(
            f"PATH '{shown_root}' holds no DICOM Part 10 file (a 128-byte preamble followed by 'DICM'); "
            f"{len(skipped)} file(s) looked at: {_listing(reasons)}."
        )
    kept.sort(key=lambda item: item.relative_path)
    skipped.sort(key=lambda item: item.relative_path)
    return Discovery(root=root, files=tuple(kept), skipped=tuple(skipped))


def printable(text: str) -> str:
    """``text`` safe to print anywhere: bytes of a file name that are not UTF-8 (which Python keeps as lone
    surrogates) shown as ``\\xNN`` escapes."""
    if _is_utf8(text):
        return text
    return os.fsencode(text).decode("utf-8", "backslashreplace")


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _walk(
    root: Path, skipped: list[SkippedFile], unreadable: list[str], *, follow_links: bool = False
) -> Iterator[tuple[Path, str]]:
    """Every file under ``root`` with its ``/``-separated relative path, in a stable order. Symbolic links are
    handled as :func:`discover` says; folders that cannot be listed are reported as unreadable."""
    if not root.is_dir():
        yield root, root.name
        return
    root_real = os.path.realpath(root)
    visited = {root_real}
    pending: list[tuple[Path, str]] = [(root, "")]
    while pending:
        folder, prefix = pending.pop()
        try:
            with os.scandir(folder) as entries:
                listed = sorted(entries, key=lambda entry: entry.name)
        except OSError as error:
            unreadable.append(f"{printable(prefix) or '.'}/ ({_os_reason(error)})")
            continue
        subfolders: list[tuple[Path, str]] = []
        for entry in listed:
            relative = f"{prefix}{entry.name}"
            try:
                if entry.is_symlink():
                    verdict = _link_verdict(entry.path, root_real, follow_links)
                    if isinstance(verdict, str):
                        skipped.append(SkippedFile(printable(relative), verdict))
                        continue
                    real, is_folder = verdict
                    if is_folder:
                        if real in visited:
                            skipped.append(
                                SkippedFile(
                                    printable(relative), "a symbolic link to a folder already walked (not again)"
                                )
                            )
                        else:
                            visited.add(real)
                            subfolders.append((Path(entry.path), f"{relative}/"))
                        continue
                    yield Path(entry.path), relative
                    continue
                if entry.is_dir(follow_symlinks=False):
                    visited.add(os.path.realpath(entry.path))
                    subfolders.append((Path(entry.path), f"{relative}/"))
                    continue
            except OSError as error:
                unreadable.append(f"{printable(relative)} ({_os_reason(error)})")
                continue
            yield Path(entry.path), relative
        pending.extend(reversed(subfolders))


def _link_verdict(link: str, root_real: str, follow: bool) -> str | tuple[str, bool]:
    """A symbolic link's fate: the reason it is skipped, or (its target's real path, whether it is a folder)."""
    try:
        target = os.readlink(link)
    except OSError:
        target = "?"
    shown = printable(target)
    try:
        info = os.stat(link)
    except FileNotFoundError:
        return f"a symbolic link to '{shown}', which does not exist (a dangling link)"
    except OSError as error:
        if error.errno == errno.ELOOP:
            return f"a symbolic link to '{shown}' that loops (it leads back to itself)"
        return f"a symbolic link to '{shown}' that cannot be followed ({_os_reason(error)})"
    real = os.path.realpath(link)
    is_folder = stat.S_ISDIR(info.st_mode)
    inside = real == root_real or real.startswith(root_real.rstrip(os.sep) + os.sep)
    kind = "folder" if is_folder else "file"
    if inside:
        if is_folder or not follow:
            where = printable(os.path.relpath(real, root_real))
            return f"a symbolic link to the {kind} '{where}' under PATH, which is imported under its own path"
        return real, False
    if not follow:
        return (
            f"a symbolic link to a {kind} outside PATH ('{printable(real)}'): not followed; pass --follow-links to "
            "import what links point to"
        )
    return real, is_folder


def distinct_contents(files: Sequence[HashedFile]) -> tuple[tuple[HashedFile, ...], tuple[SkippedFile, ...]]:
    """The files with distinct content (size and CRC64NVME), the first in path order kept; every other one is
    skipped, naming the file of the same content that is imported instead."""
    first: dict[tuple[int, str], HashedFile] = {}
    kept: list[HashedFile] = []
    repeated: list[SkippedFile] = []
    for item in sorted(files, key=lambda candidate: candidate.relative_path):
        known = first.setdefault((item.size, item.crc64nvme), item)
        if known is item:
            kept.append(item)
        else:
            repeated.append(
                SkippedFile(item.relative_path, f"the same content as '{known.relative_path}', which is imported once")
            )
    return tuple(kept), tuple(repeated)


def fingerprint(
    files: Sequence[SourceFile],
    *,
    workers: int = 4,
    on_file: Callable[[SourceFile], None] | None = None,
) -> tuple[HashedFile, ...]:
    """CRC64NVME of every file (one streamed read each; ``workers`` files at a time when they are large), in the
    given order.

    Raises UsageError when a file cannot be read or has changed size since it was discovered."""
    checksums = _crc_module()

    def hash_one(item: SourceFile) -> HashedFile:
        buffer = _read_buffer()
        view = memoryview(buffer)
        crc = 0
        length = 0
        try:
            with item.path.open("rb", buffering=0) as stream:  # unbuffered: read straight into the buffer
                while count := stream.readinto(buffer):
                    crc = checksums.crc64nvme(view[:count], crc)
                    length += count
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
            path=item.path, relative_path=item.relative_path, size=item.size, crc64nvme=crc64nvme_base64(crc)
        )

    average = sum(item.size for item in files) / max(len(files), 1)
    if workers <= 1 or len(files) <= 1 or average < _THREADED_HASHING_FROM_BYTES:
        # Small files: a thread pool costs more than it overlaps (opening and reading a small file is mostly
        # interpreter time); on large ones reading and the CRC run outside the GIL, so two files go at once.
        return tuple(hash_one(item) for item in files)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fingerprint") as pool:
        return tuple(pool.map(hash_one, files))


def crc64nvme_base64(value: int) -> str:
    """A CRC64NVME value as S3 writes it (base64 of its eight big-endian bytes)."""
    return base64.b64encode(value.to_bytes(8, "big")).decode("ascii")


_buffers = threading.local()


def _read_buffer() -> bytearray:
    """This thread's read buffer (one per thread, reused for every file it reads)."""
    buffer: bytearray | None = getattr(_buffers, "buffer", None)
    if buffer is None:
        buffer = _buffers.buffer = bytearray(_READ_CHUNK)
    return buffer


def _crc_module() -> Any:
    try:
        from awscrt import checksums
    except ImportError:
        raise OpsError(
            "awscrt is not installed, and the import needs it to fingerprint files (CRC64NVME): install the "
            "tool's requirements (`pip install -r requirements.txt`)."
        ) from None
    return checksums


def _listing(items: Sequence[str]) -> str:
    shown = "; ".join(items[:LISTED_IN_MESSAGES])
    if len(items) > LISTED_IN_MESSAGES:
        shown += f"; and {len(items) - LISTED_IN_MESSAGES} more"
    return shown


def _os_reason(error: OSError) -> str:
    return error.strerror or type(error).__name__
