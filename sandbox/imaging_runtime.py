"""HealthImaging's runtime operations on the emulator's image sets: SearchImageSets, GetImageSetMetadata, GetImageFrame.

Outputs are shaped by botocore's model (the emulator checks each against it). GetImageSetMetadata answers gzip JSON
in HealthImaging's normalized shape::

    {"SchemaVersion": "1.1", "DatastoreID": ..., "ImageSetID": ...,
     "Patient": {"DICOM": {...}},
     "Study": {"DICOM": {...}, "Series": {<SeriesInstanceUID>: {"DICOM": {...}, "Instances": {<SOPInstanceUID>: {
         "DICOM": {...}, "StoredTransferSyntaxUID": ..., "ImageFrames": [{"ID", "FrameSizeInBytes",
         "PixelDataChecksumFromBaseToFullResolution": [{"Width", "Height", "Checksum"}],
         "MinPixelValue", "MaxPixelValue"}]}}}}}}

Attribute values are plain JSON by keyword (inference from AWS's published examples): text and PN as strings,
IS and DS as their text, binary integers and floats as numbers, multiple values as lists, sequences as lists of
objects; binary attributes (OB, OW, UN, ...) are left out. The checksum is the CRC32 of the frame's stored bytes.

GetImageFrame answers a frame in the transfer syntax ``StoredTransferSyntaxUID`` names: HTJ2K lossless RPCL
(1.2.840.10008.1.2.4.202) for native grayscale frames when imagecodecs is installed (sandbox/htj2k.py), otherwise
the frame as the emulator keeps it (docs/sandbox.md).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import zlib
from collections.abc import Callable
from typing import Any

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from . import htj2k
from .dicom_store import (
    METADATA_SCHEMA_VERSION,
    PATIENT_KEYWORDS,
    SERIES_KEYWORDS,
    STUDY_KEYWORDS,
    DicomStore,
    ImageSet,
    StoredInstance,
    frame_pixel_range,
)
from .rest_json import ParsedRequest, ServiceError

#: VRs whose values are bytes: not part of the metadata blob.
BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN", "OB or OW", "US or OW"})
NUMBER_VRS = frozenset({"US", "SS", "UL", "SL", "UV", "SV", "FL", "FD", "US or SS"})
#: SearchImageSets' documented default order (newest update first).
DEFAULT_SORT = {"sortField": "updatedAt", "sortOrder": "DESC"}

ImageSetLookup = Callable[[ParsedRequest], ImageSet]
DatastoreCheck = Callable[[ParsedRequest], Any]
Pager = Callable[[ParsedRequest, list[Any]], tuple[list[Any], str | None]]


def plain_value(element: DataElement) -> Any:
    """An element's value as HealthImaging's metadata writes it (None: left out)."""
    vr = str(element.VR)
    if vr in BINARY_VRS:
        return None
    if vr == "SQ":
        return [plain_attributes(item, lambda _keyword: True) for item in element.value]
    value = element.value
    if isinstance(value, MultiValue):
        return [_plain_scalar(vr, item) for item in value]
    return _plain_scalar(vr, value)


def _plain_scalar(vr: str, value: Any) -> Any:
    if value is None:
        return None
    if vr in NUMBER_VRS:
        return value
    if vr in ("IS", "DS"):
        original = getattr(value, "original_string", None)
        return str(original if original is not None else value)
    return str(value)


def plain_attributes(dataset: Dataset, wanted: Callable[[str], bool]) -> dict[str, Any]:
    """The dataset's attributes whose keyword ``wanted`` accepts, by keyword (private and binary ones left out)."""
    attributes: dict[str, Any] = {}
    for element in dataset:
        keyword = element.keyword
        if not keyword or element.tag.is_private or not wanted(keyword):
            continue
        value = plain_value(element)
        if value is not None:
            attributes[keyword] = value
    return attributes


def _instance_level(keyword: str) -> bool:
    return keyword not in PATIENT_KEYWORDS and keyword not in STUDY_KEYWORDS and keyword not in SERIES_KEYWORDS


def image_frames(instance: StoredInstance) -> list[dict[str, Any]]:
    """``ImageFrames`` of one instance in the metadata blob."""
    dataset = instance.dataset
    width, height = int(dataset.get("Columns", 0) or 0), int(dataset.get("Rows", 0) or 0)
    frames = []
    for frame_id, frame in zip(instance.frame_ids, instance.frames, strict=True):
        entry: dict[str, Any] = {
            "ID": frame_id,
            "PixelDataChecksumFromBaseToFullResolution": [
                {"Width": width, "Height": height, "Checksum": zlib.crc32(frame)}
            ],
            "FrameSizeInBytes": len(frame),
        }
        pixel_range = frame_pixel_range(instance, frame)
        if pixel_range is not None:
            entry["MinPixelValue"], entry["MaxPixelValue"] = pixel_range
        frames.append(entry)
    return frames


def image_set_metadata(image_set: ImageSet) -> dict[str, Any]:
    """The image set's metadata document in HealthImaging's normalized shape (module docstring)."""
    instances = sorted(image_set.instances.values(), key=_instance_order)
    first = instances[0].dataset if instances else Dataset()
    series_instances = {
        instance.sop_instance_uid: {
            "DICOM": plain_attributes(instance.dataset, _instance_level),
            "StoredTransferSyntaxUID": htj2k.runtime_transfer_syntax(instance),
            "ImageFrames": image_frames(instance),
        }
        for instance in instances
    }
    return {
        "SchemaVersion": METADATA_SCHEMA_VERSION,
        "DatastoreID": image_set.datastore_id,
        "ImageSetID": image_set.image_set_id,
        "Patient": {"DICOM": plain_attributes(first, PATIENT_KEYWORDS.__contains__)},
        "Study": {
            "DICOM": plain_attributes(first, STUDY_KEYWORDS.__contains__),
            "Series": {
                image_set.series_instance_uid: {
                    "DICOM": plain_attributes(first, SERIES_KEYWORDS.__contains__),
                    "Instances": series_instances,
                }
            },
        },
    }


def _instance_order(instance: StoredInstance) -> tuple[int, str]:
    number = instance.dataset.get("InstanceNumber")
    try:
        return (int(number), instance.sop_instance_uid)
    except (TypeError, ValueError):
        return (0, instance.sop_instance_uid)


class ImagingRuntime:
    """The runtime operations' handlers (``handlers()``), for the emulator's dispatch table."""

    def __init__(
        self,
        store: DicomStore,
        *,
        image_set: ImageSetLookup,
        datastore: DatastoreCheck,
        page: Pager,
        htj2k_cache: htj2k.Htj2kCache,
    ) -> None:
        self.store = store
        self.htj2k = htj2k_cache
        self._image_set = image_set
        self._datastore = datastore
        self._page = page

    def handlers(self) -> dict[str, Callable[[ParsedRequest], dict[str, Any]]]:
        return {
            "SearchImageSets": self.search_image_sets,
            "GetImageSetMetadata": self.get_image_set_metadata,
            "GetImageFrame": self.get_image_frame,
            "ListImageSetVersions": self.list_image_set_versions,
        }

    def list_image_set_versions(self, parsed: ParsedRequest) -> dict[str, Any]:
        """Every version number of the image set, newest first (their content is not kept: docs/sandbox.md)."""
        image_set = self._image_set(parsed)
        versions = list(range(image_set.version, 0, -1))
        page, next_token = self._page(parsed, versions)
        return {
            "imageSetPropertiesList": [
                {
                    "imageSetId": image_set.image_set_id,
                    "versionId": str(version),
                    "imageSetState": "ACTIVE",
                    "ImageSetWorkflowStatus": "IMPORTED",
                    "createdAt": image_set.created_at,
                    "updatedAt": image_set.updated_at if version == image_set.version else image_set.created_at,
                    "isPrimary": image_set.is_primary,
                }
                for version in page
            ],
            "nextToken": next_token,
        }

    def get_image_set_metadata(self, parsed: ParsedRequest) -> dict[str, Any]:
        image_set = self._image_set(parsed)
        version = parsed.params.get("versionId")
        if version is not None and not 1 <= int(version) <= image_set.version:
            raise ServiceError("ResourceNotFoundException", f"Image set version {version} not found")
        document = json.dumps(image_set_metadata(image_set), separators=(",", ":")).encode()
        return {
            "imageSetMetadataBlob": gzip.compress(document, mtime=0),
            "contentType": "application/json",
            "contentEncoding": "gzip",
        }

    def get_image_frame(self, parsed: ParsedRequest) -> dict[str, Any]:
        image_set = self._image_set(parsed)
        frame_id = parsed.params["imageFrameInformation"]["imageFrameId"]
        found = self.store.frame(image_set, frame_id)
        if found is None:
            raise ServiceError("ResourceNotFoundException", f"Image frame {frame_id} not found")
        instance, index = found
        blob = self.htj2k.frame(instance, index) if htj2k.encodable(instance) else instance.frames[index]
        return {"imageFrameBlob": blob, "contentType": "application/octet-stream"}

    def search_image_sets(self, parsed: ParsedRequest) -> dict[str, Any]:
        datastore = self._datastore(parsed)
        criteria = parsed.params.get("searchCriteria") or {}
        candidates = self.store.image_sets_of(datastore.datastore_id)
        for search_filter in criteria.get("filters") or []:
            candidates = [s for s in candidates if _matches(s, search_filter)]
        sort = criteria.get("sort") or DEFAULT_SORT
        candidates.sort(key=lambda s: _sort_key(s, sort["sortField"]), reverse=sort["sortOrder"] == "DESC")
        page, next_token = self._page(parsed, candidates)
        study_counts = self._study_counts(datastore.datastore_id)
        return {
            "imageSetsMetadataSummaries": [self._summary(image_set, study_counts) for image_set in page],
            "sort": sort if "sort" in criteria else None,
            "nextToken": next_token,
        }

    def _study_counts(self, datastore_id: str) -> dict[str, tuple[int, int]]:
        counts: dict[str, tuple[int, int]] = {}
        for image_set in self.store.primary_image_sets(datastore_id):
            series, instances = counts.get(image_set.study_instance_uid, (0, 0))
            counts[image_set.study_instance_uid] = (series + 1, instances + len(image_set.instances))
        return counts

    @staticmethod
    def _summary(image_set: ImageSet, study_counts: dict[str, tuple[int, int]]) -> dict[str, Any]:
        first = next(iter(image_set.instances.values())).dataset if image_set.instances else Dataset()
        tags: dict[str, Any] = {
            "DICOMPatientId": str(first.get("PatientID", "") or ""),
            "DICOMPatientName": str(first.get("PatientName", "") or ""),
            "DICOMPatientBirthDate": str(first.get("PatientBirthDate", "") or ""),
            "DICOMPatientSex": str(first.get("PatientSex", "") or ""),
            "DICOMStudyInstanceUID": image_set.study_instance_uid,
            "DICOMStudyId": str(first.get("StudyID", "") or ""),
            "DICOMStudyDescription": str(first.get("StudyDescription", "") or ""),
            "DICOMAccessionNumber": str(first.get("AccessionNumber", "") or ""),
            "DICOMSeriesInstanceUID": image_set.series_instance_uid,
            "DICOMSeriesModality": str(first.get("Modality", "") or ""),
            "DICOMSeriesBodyPart": str(first.get("BodyPartExamined", "") or ""),
            "DICOMStudyDate": str(first.get("StudyDate", "") or ""),
            "DICOMStudyTime": str(first.get("StudyTime", "") or ""),
        }
        tags = {key: value for key, value in tags.items() if value}
        series_number = first.get("SeriesNumber")
        if series_number not in (None, ""):
            tags["DICOMSeriesNumber"] = int(series_number)
        if image_set.study_instance_uid in study_counts:
            series, instances = study_counts[image_set.study_instance_uid]
            tags["DICOMNumberOfStudyRelatedSeries"] = series
            tags["DICOMNumberOfStudyRelatedInstances"] = instances
        return {
            "imageSetId": image_set.image_set_id,
            "version": image_set.version,
            "createdAt": image_set.created_at,
            "updatedAt": image_set.updated_at,
            "DICOMTags": tags,
            "isPrimary": image_set.is_primary,
        }


def _sort_key(image_set: ImageSet, field: str) -> Any:
    if field == "DICOMStudyDateAndTime":
        return _study_date_time(image_set)
    return image_set.created_at if field == "createdAt" else image_set.updated_at


def _study_date_time(image_set: ImageSet) -> str:
    first = next(iter(image_set.instances.values())).dataset if image_set.instances else Dataset()
    return f"{first.get('StudyDate', '') or ''}{first.get('StudyTime', '') or ''}"


def _timestamp(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromtimestamp(float(value), tz=dt.UTC)


def _matches(image_set: ImageSet, search_filter: dict[str, Any]) -> bool:
    """One SearchFilter: ``EQUAL`` with one value, ``BETWEEN`` with two (inclusive)."""
    operator, values = search_filter["operator"], search_filter["values"]
    expected = 1 if operator == "EQUAL" else 2
    if len(values) != expected:
        raise ServiceError("ValidationException", f"{operator} takes {expected} value(s), not {len(values)}")
    actual: list[Any] = []
    wanted: list[Any] = []
    first = next(iter(image_set.instances.values())).dataset if image_set.instances else Dataset()
    for value in values:
        [(attribute, given)] = value.items()
        if attribute in ("createdAt", "updatedAt"):
            actual.append(getattr(image_set, "created_at" if attribute == "createdAt" else "updated_at"))
            wanted.append(_timestamp(given))
        elif attribute == "isPrimary":
            actual.append(image_set.is_primary)
            wanted.append(given)
        elif attribute == "DICOMStudyDateAndTime":
            actual.append(_study_date_time(image_set))
            wanted.append(f"{given.get('DICOMStudyDate', '')}{given.get('DICOMStudyTime', '')}")
        else:
            keyword = {
                "DICOMPatientId": "PatientID",
                "DICOMAccessionNumber": "AccessionNumber",
                "DICOMStudyId": "StudyID",
                "DICOMStudyInstanceUID": "StudyInstanceUID",
                "DICOMSeriesInstanceUID": "SeriesInstanceUID",
            }[attribute]
            actual.append(str(first.get(keyword, "") or ""))
            wanted.append(given)
    if operator == "EQUAL":
        return bool(actual[0] == wanted[0])
    low, high = wanted
    return bool(low <= actual[0] <= high)
