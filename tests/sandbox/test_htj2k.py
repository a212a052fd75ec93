"""HTJ2K frames (sandbox/htj2k.py): which frames are encoded, and that the encoding is lossless RPCL."""

from __future__ import annotations

import io

import pydicom
import pytest

from sandbox import htj2k
from sandbox.dicom_store import parse_part10
from testkit.codecs import require_imagecodecs
from testkit.dicom_samples import sample


def decoded_bytes(codestream: bytes) -> bytes:
    return bytes(require_imagecodecs().htj2k_decode(codestream).tobytes())


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small.dcm", "MR_small_bigendian.dcm"])
def test_a_grayscale_frame_encodes_losslessly(name: str) -> None:
    require_imagecodecs()
    instance = parse_part10(sample(name).read_bytes())
    assert htj2k.encodable(instance)
    codestream = htj2k.encode(instance, instance.frames[0])
    assert codestream[:4] == b"\xff\x4f\xff\x51"  # a JPEG 2000 codestream: SOC, SIZ
    assert decoded_bytes(codestream) == instance.frames[0]


def test_the_codestream_is_in_rpcl_order_as_its_transfer_syntax_says() -> None:
    require_imagecodecs()
    instance = parse_part10(sample("CT_small.dcm").read_bytes())
    codestream = htj2k.encode(instance, instance.frames[0])
    cod = codestream.index(b"\xff\x52")  # the COD marker: Lcod (2 bytes), Scod, then the progression order
    assert codestream[cod + 5] == 2  # RPCL
    assert htj2k.runtime_transfer_syntax(instance) == htj2k.HTJ2K_LOSSLESS_RPCL == "1.2.840.10008.1.2.4.202"


def test_an_8_bit_frame_encodes_losslessly() -> None:
    require_imagecodecs()
    dataset = pydicom.dcmread(sample("CT_small.dcm"))
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit, dataset.PixelRepresentation = 8, 8, 7, 0
    dataset.PixelData = bytes(range(256)) * 64
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    instance = parse_part10(buffer.getvalue())
    assert decoded_bytes(htj2k.encode(instance, instance.frames[0])) == instance.frames[0]


@pytest.mark.parametrize(
    ("name", "why"),
    [("SC_rgb_small_odd.dcm", "colour"), ("rtdose.dcm", "32 bits"), ("SC_rgb_rle_2frame.dcm", "arrived compressed")],
)
def test_frames_that_are_not_encoded_keep_their_transfer_syntax(name: str, why: str) -> None:
    instance = parse_part10(sample(name).read_bytes())
    assert not htj2k.encodable(instance), why
    assert htj2k.runtime_transfer_syntax(instance) == instance.transfer_syntax_uid
    with pytest.raises(ValueError, match="cannot be encoded in HTJ2K"):
        htj2k.encode(instance, instance.frames[0])


def test_without_the_codec_nothing_is_encoded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(htj2k, "available", lambda: False)
    instance = parse_part10(sample("CT_small.dcm").read_bytes())
    assert not htj2k.encodable(instance)
    assert htj2k.runtime_transfer_syntax(instance) == "1.2.840.10008.1.2.1"


def test_a_frame_is_encoded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    require_imagecodecs()
    instance = parse_part10(sample("CT_small.dcm").read_bytes())
    calls: list[bytes] = []
    encode = htj2k.encode
    monkeypatch.setattr(htj2k, "encode", lambda i, frame: calls.append(frame) or encode(i, frame))
    cache = htj2k.Htj2kCache()
    assert cache.frame(instance, 0) == cache.frame(instance, 0)
    assert len(calls) == 1
