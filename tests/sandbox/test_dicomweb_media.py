"""DICOMweb media types (sandbox/dicomweb_media.py): Accept negotiation and multipart/related bodies."""

from __future__ import annotations

import pytest

from sandbox.dicomweb_media import multipart_related, negotiate_multipart, parse_accept, split_multipart

OHIF_FRAMES_ACCEPT = "multipart/related; type=application/octet-stream; transfer-syntax=*"
LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
RLE = "1.2.840.10008.1.2.5"
HTJ2K = "1.2.840.10008.1.2.4.202"


def test_accept_parameters_are_read_quoted_or_not() -> None:
    [media] = parse_accept('multipart/related; type="application/octet-stream"; transfer-syntax=*')
    assert media.media_type == "multipart/related"
    assert media.parameters == {"type": "application/octet-stream", "transfer-syntax": "*"}


def test_ohifs_frame_request_gets_the_stored_transfer_syntax() -> None:
    part = negotiate_multipart(OHIF_FRAMES_ACCEPT, "application/octet-stream", [LITTLE_ENDIAN, HTJ2K], LITTLE_ENDIAN)
    assert part == (f"application/octet-stream; transfer-syntax={LITTLE_ENDIAN}", LITTLE_ENDIAN)
    compressed = negotiate_multipart(OHIF_FRAMES_ACCEPT, "application/octet-stream", [RLE], LITTLE_ENDIAN)
    assert compressed == (f"application/octet-stream; transfer-syntax={RLE}", RLE)


def test_uncompressed_frames_are_the_default_without_a_transfer_syntax() -> None:
    accept = "multipart/related; type=application/octet-stream"
    assert negotiate_multipart(accept, "application/octet-stream", [LITTLE_ENDIAN], LITTLE_ENDIAN) is not None
    assert negotiate_multipart(accept, "application/octet-stream", [RLE], LITTLE_ENDIAN) is None


def test_a_transfer_syntax_the_answer_cannot_be_given_in_is_not_acceptable() -> None:
    accept = f"multipart/related; type=application/octet-stream; transfer-syntax={HTJ2K}"
    assert negotiate_multipart(accept, "application/octet-stream", [LITTLE_ENDIAN], LITTLE_ENDIAN) is None
    part = negotiate_multipart(accept, "application/octet-stream", [LITTLE_ENDIAN, HTJ2K], LITTLE_ENDIAN)
    assert part == (f"application/octet-stream; transfer-syntax={HTJ2K}", HTJ2K)


def test_a_multipart_body_splits_back_into_its_parts() -> None:
    content_type, body = multipart_related(
        [("application/dicom", b"first\r\n\r\nbytes"), ("application/dicom", b"second")], "application/dicom"
    )
    assert content_type.startswith('multipart/related; type="application/dicom"; boundary=')
    parts = split_multipart(content_type, body)
    assert [payload for _, payload in parts] == [b"first\r\n\r\nbytes", b"second"]
    assert parts[0][0] == {"content-type": "application/dicom"}


def test_a_body_without_its_closing_boundary_is_refused() -> None:
    with pytest.raises(ValueError, match="closing boundary"):
        split_multipart("multipart/related; boundary=abc", b"--abc\r\nContent-Type: x\r\n\r\ndata\r\n")
