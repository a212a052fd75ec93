"""Where this repository is on disk: the one place that finds its root.

The tools that live in the repository (``ahictl``, ``scripts/``, the provider plugin), the benchmarks and the tests
take ``REPOSITORY_ROOT`` from here. The packaged code (``components/``, ``ahiops/``, ``healthimaging_functions/``)
never looks for it: installed from the wheel, there is no repository.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

#: The repository's root: ``Pulumi.yaml``, ``__main__.py`` and ``pyproject.toml`` are here.
REPOSITORY_ROOT: Final = Path(__file__).resolve().parent.parent
