"""Writing a command's ``--output`` file whole or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_whole(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path`` so that it holds either its old content or all of the new, never a part.

    A regular file (or a new one) is written to a temporary file beside it and renamed over it; anything else that
    already exists (``/dev/stdout``, a pipe) is written directly, since it cannot be replaced. Raises ``OSError``
    (the temporary file removed) when the file cannot be written.
    """
    if path.exists() and not path.is_file():
        path.write_bytes(content)
        return
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
