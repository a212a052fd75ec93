"""Real DICOM files for the tests: the samples pydicom ships (``CT_small.dcm``, ``MR_small.dcm``, ``no_meta.dcm``, ...)."""

from __future__ import annotations

from pathlib import Path

from pydicom.data import get_testdata_file


def sample(name: str) -> Path:
    """The path of one of pydicom's sample files; an error naming it when this pydicom does not ship it."""
    found = get_testdata_file(name)
    assert found is not None, f"pydicom ships no sample named {name}"
    return Path(str(found))
