"""The emulator's DICOM parsing and image set grouping (sandbox/dicom_store.py), without a server."""

from __future__ import annotations

import io
from pathlib import Path

import pydicom
import pytest

from sandbox.dicom_store import (
    INVALID_FILE_EXCEPTION,
    NATIVE_TRANSFER_SYNTAX,
    DicomStore,
    UnimportableFileError,
    frame_pixel_range,
    parse_part10,
)
from testkit.dicom_samples import sample

DATASTORE = "d" * 32


def part10(path: Path, **changes: object) -> bytes:
    """The sample's bytes, with attributes changed (keyword=value) when asked."""
    if not changes:
        return path.read_bytes()
    dataset = pydicom.dcmread(path)
    for keyword, value in changes.items():
        setattr(dataset, keyword, value)
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def test_a_native_frame_is_the_pixel_data_of_the_file() -> None:
    instance = parse_part10(sample("CT_small.dcm").read_bytes())
    assert instance.frames == [pydicom.dcmread(sample("CT_small.dcm")).PixelData]
    assert instance.transfer_syntax_uid == NATIVE_TRANSFER_SYNTAX
    assert len(instance.frame_ids) == 1
    assert len(instance.frame_ids[0]) == 32


def test_a_big_endian_file_is_stored_as_little_endian_frames() -> None:
    big = parse_part10(sample("MR_small_bigendian.dcm").read_bytes())
    little = pydicom.dcmread(sample("MR_small.dcm"))
    assert big.original_transfer_syntax_uid == "1.2.840.10008.1.2.2"
    assert big.frames == [little.PixelData]


def test_a_multi_frame_file_has_one_frame_per_number_of_frames() -> None:
    dataset = pydicom.dcmread(sample("rtdose.dcm"))
    instance = parse_part10(sample("rtdose.dcm").read_bytes())
    size = dataset.Rows * dataset.Columns * dataset.BitsAllocated // 8
    assert len(instance.frames) == int(dataset.NumberOfFrames) == 15
    assert b"".join(instance.frames) == dataset.PixelData[: size * 15]
    assert instance.frames[3] == dataset.PixelData[3 * size : 4 * size]


def test_an_encapsulated_file_keeps_its_compressed_frames_and_transfer_syntax() -> None:
    instance = parse_part10(sample("SC_rgb_rle_2frame.dcm").read_bytes())
    assert instance.transfer_syntax_uid == "1.2.840.10008.1.2.5"
    assert len(instance.frames) == 2
    # Each RLE frame starts with its header: the number of segments, one per 8-bit sample of R, G and B.
    assert [int.from_bytes(frame[:4], "little") for frame in instance.frames] == [3, 3]


def test_the_dicom_json_has_no_pixel_data_and_no_file_meta() -> None:
    instance = parse_part10(sample("CT_small.dcm").read_bytes())
    assert "7FE00010" not in instance.dicom_json
    assert not any(tag.startswith("0002") for tag in instance.dicom_json)
    assert instance.dicom_json["00100020"] == {"vr": "LO", "Value": ["1CT1"]}


def test_a_file_without_the_part10_header_is_a_validation_exception() -> None:
    with pytest.raises(UnimportableFileError) as raised:
        parse_part10(sample("ExplVR_LitEndNoMeta.dcm").read_bytes())
    assert raised.value.exception_type == INVALID_FILE_EXCEPTION == "ValidationException"
    assert "Not a DICOM Part 10 file" in raised.value.message


def test_a_truncated_file_is_a_validation_exception() -> None:
    data = sample("CT_small.dcm").read_bytes()
    with pytest.raises(UnimportableFileError) as raised:
        parse_part10(data[: len(data) // 2])
    assert raised.value.exception_type == "ValidationException"
    assert "Unreadable DICOM Part 10 file" in raised.value.message


def test_a_file_without_a_series_uid_is_a_validation_exception() -> None:
    dataset = pydicom.dcmread(sample("CT_small.dcm"))
    del dataset.SeriesInstanceUID
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    with pytest.raises(UnimportableFileError, match="The file has no SeriesInstanceUID"):
        parse_part10(buffer.getvalue())


def test_the_pixel_range_of_a_signed_frame() -> None:
    instance = parse_part10(sample("CT_small.dcm").read_bytes())
    dataset = pydicom.dcmread(sample("CT_small.dcm"))
    values = [int.from_bytes(dataset.PixelData[i : i + 2], "little", signed=True) for i in range(0, 32768, 2)]
    assert frame_pixel_range(instance, instance.frames[0]) == (min(values), max(values))


def test_two_series_make_two_primary_image_sets() -> None:
    store = DicomStore("us-east-1", "123456789012")
    ct, mr = parse_part10(part10(sample("CT_small.dcm"))), parse_part10(part10(sample("MR_small.dcm")))
    result = store.add(DATASTORE, [ct, mr])
    assert len({p.image_set_id for p in result.placements}) == 2
    assert all(p.is_primary for p in result.placements)
    assert [s["imageSetVersion"] for s in result.summaries] == [1, 1]


def test_a_later_import_of_the_same_series_adds_to_its_image_set_and_raises_its_version() -> None:
    store = DicomStore("us-east-1", "123456789012")
    first = store.add(DATASTORE, [parse_part10(part10(sample("CT_small.dcm")))])
    other_instance = part10(sample("CT_small.dcm"), SOPInstanceUID="1.2.3.4.5")
    second = store.add(DATASTORE, [parse_part10(other_instance)])
    assert second.placements[0].image_set_id == first.placements[0].image_set_id
    assert second.summaries == [
        {
            "imageSetId": first.placements[0].image_set_id,
            "imageSetVersion": 2,
            "isPrimary": True,
            "numberOfMatchedSOPInstances": 1,
        }
    ]
    assert len(store.image_sets[first.placements[0].image_set_id].instances) == 2


def test_the_same_sop_instance_imported_again_replaces_the_first() -> None:
    store = DicomStore("us-east-1", "123456789012")
    first = store.add(DATASTORE, [parse_part10(part10(sample("CT_small.dcm")))])
    store.add(DATASTORE, [parse_part10(part10(sample("CT_small.dcm")))])
    image_set = store.image_sets[first.placements[0].image_set_id]
    assert len(image_set.instances) == 1
    assert image_set.version == 2
    assert len(store.image_sets) == 1


def test_an_instance_that_conflicts_with_the_primary_image_set_goes_to_a_non_primary_one() -> None:
    store = DicomStore("us-east-1", "123456789012")
    first = store.add(DATASTORE, [parse_part10(part10(sample("CT_small.dcm")))])
    conflicting = part10(sample("CT_small.dcm"), PatientID="SOMEONE-ELSE", SOPInstanceUID="1.2.3.4.6")
    second = store.add(DATASTORE, [parse_part10(conflicting)])
    assert second.placements[0].image_set_id != first.placements[0].image_set_id
    assert second.placements[0].is_primary is False
    assert second.summaries[0]["isPrimary"] is False
    assert store.image_sets[first.placements[0].image_set_id].version == 1
    assert [s.image_set_id for s in store.primary_image_sets(DATASTORE)] == [first.placements[0].image_set_id]


def test_other_data_stores_do_not_share_image_sets() -> None:
    store = DicomStore("us-east-1", "123456789012")
    first = store.add(DATASTORE, [parse_part10(part10(sample("CT_small.dcm")))])
    other = store.add("e" * 32, [parse_part10(part10(sample("CT_small.dcm")))])
    assert other.placements[0].image_set_id != first.placements[0].image_set_id
    assert other.placements[0].is_primary


def test_a_frame_is_found_by_its_id_only_in_its_image_set() -> None:
    store = DicomStore("us-east-1", "123456789012")
    ct = parse_part10(part10(sample("CT_small.dcm")))
    mr = parse_part10(part10(sample("MR_small.dcm")))
    result = store.add(DATASTORE, [ct, mr])
    ct_set, mr_set = (store.image_sets[p.image_set_id] for p in result.placements)
    found = store.frame(ct_set, ct.frame_ids[0])
    assert found is not None
    assert found == (ct, 0)
    assert store.frame(mr_set, ct.frame_ids[0]) is None


def test_only_instances_of_primary_image_sets_that_are_not_deleted_are_served() -> None:
    store = DicomStore("us-east-1", "123456789012")
    ct = parse_part10(part10(sample("CT_small.dcm")))
    first = store.add(DATASTORE, [ct])
    conflicting = parse_part10(part10(sample("CT_small.dcm"), PatientID="OTHER", SOPInstanceUID="1.2.3.4.7"))
    store.add(DATASTORE, [conflicting])
    uids = (ct.study_instance_uid, ct.series_instance_uid)
    assert store.primary_instance(DATASTORE, *uids, ct.sop_instance_uid) is ct
    assert store.primary_instance(DATASTORE, *uids, "1.2.3.4.7") is None  # in the non-primary image set
    assert [i.sop_instance_uid for i in store.primary_instances(DATASTORE)] == [ct.sop_instance_uid]
    store.image_sets[first.placements[0].image_set_id].deleted = True
    assert store.primary_instance(DATASTORE, *uids, ct.sop_instance_uid) is None
    assert store.primary_instances(DATASTORE) == []
