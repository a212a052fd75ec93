"""Frames in HTJ2K, as HealthImaging keeps them: lossless, RPCL progression, transfer syntax 1.2.840.10008.1.2.4.202.

Encoded with imagecodecs (OpenJPH; its default progression order is RPCL) from the emulator's native frames,
once per frame, when first asked for. Single-sample (grayscale) frames of 8 or 16 bits allocated are encoded;
colour frames, other bit depths and frames that arrived compressed stay as the emulator keeps them.

imagecodecs and numpy are pinned in requirements-dev.txt; without them the emulator still runs and answers every
frame as it keeps it (:func:`available` is False).
"""

from __future__ import annotations

import functools
import importlib
import threading
from typing import Any

from .dicom_store import NATIVE_TRANSFER_SYNTAX, StoredInstance

#: HTJ2K lossless with RPCL progression: what HealthImaging stores frames as by default.
HTJ2K_LOSSLESS_RPCL = "1.2.840.10008.1.2.4.202"
#: HTJ2K lossless: an RPCL codestream is one too.
HTJ2K_LOSSLESS = "1.2.840.10008.1.2.4.201"


@functools.cache
def _codecs() -> tuple[Any, Any] | None:
    try:
        imagecodecs = importlib.import_module("imagecodecs")
        numpy = importlib.import_module("numpy")
    except ImportError:
        return None
    return (imagecodecs, numpy) if imagecodecs.HTJ2K.available else None


def available() -> bool:
    """Whether this Python can encode HTJ2K (imagecodecs with OpenJPH, and numpy, installed)."""
    return _codecs() is not None


def encodable(instance: StoredInstance) -> bool:
    """Whether the instance's frames are answered in HTJ2K (native, single-sample, 8 or 16 bits allocated)."""
    dataset = instance.dataset
    return (
        available()
        and instance.transfer_syntax_uid == NATIVE_TRANSFER_SYNTAX
        and int(dataset.get("SamplesPerPixel", 1)) == 1
        and int(dataset.get("BitsAllocated", 0)) in (8, 16)
    )


def encode(instance: StoredInstance, frame: bytes) -> bytes:
    """One native frame of the instance as a lossless HTJ2K codestream (RPCL)."""
    codecs = _codecs()
    if codecs is None or not encodable(instance):
        raise ValueError("this frame cannot be encoded in HTJ2K here")
    imagecodecs, numpy = codecs
    dataset = instance.dataset
    signed = int(dataset.get("PixelRepresentation", 0)) == 1
    bits = int(dataset.BitsAllocated)
    dtype = {(8, False): "u1", (8, True): "i1", (16, False): "<u2", (16, True): "<i2"}[(bits, signed)]
    pixels = numpy.frombuffer(frame, dtype=dtype).reshape(int(dataset.Rows), int(dataset.Columns))
    return bytes(imagecodecs.htj2k_encode(pixels, reversible=True))


class Htj2kCache:
    """HTJ2K codestreams of frames, by frame id, encoded once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._encoded: dict[str, bytes] = {}

    def frame(self, instance: StoredInstance, index: int) -> bytes:
        frame_id = instance.frame_ids[index]
        with self._lock:
            found = self._encoded.get(frame_id)
        if found is None:
            found = encode(instance, instance.frames[index])  # outside the lock: other frames go on meanwhile
            with self._lock:
                self._encoded[frame_id] = found
        return found


def runtime_transfer_syntax(instance: StoredInstance) -> str:
    """The transfer syntax GetImageFrame answers the instance's frames in (``StoredTransferSyntaxUID``)."""
    return HTJ2K_LOSSLESS_RPCL if encodable(instance) else instance.transfer_syntax_uid
