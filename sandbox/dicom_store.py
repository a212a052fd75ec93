"""The emulator's image sets: DICOM Part 10 files parsed with pydicom, grouped as HealthImaging groups them.

:func:`parse_part10` turns one file into a :class:`StoredInstance` (its dataset without pixel data, its frames,
its PS3.18 DICOM JSON) or raises :class:`UnimportableFileError` with the exception type HealthImaging writes in
``failure.ndjson``. :class:`DicomStore` keeps image sets in memory and adds instances to them by HealthImaging's
rule, for import jobs and STOW-RS alike.

The grouping rule (HealthImaging developer guide, "Understanding image sets" and "Understanding import jobs"):

- Instances are grouped by StudyInstanceUID + SeriesInstanceUID; an image set resembles a DICOM series.
- The normalization elements decide whether instances agree: study level PatientID, StudyDate, AccessionNumber,
  StudyID (with StudyInstanceUID); series level SeriesNumber (with SeriesInstanceUID).
- Instances that agree with the primary image set of their series (in the same job or an earlier one) are added to
  it, and its version goes up by one per job; a series seen for the first time gets a new primary image set.
- Instances that conflict with the primary image set of their series go to a new non-primary image set
  (``isPrimary: false`` in ``success.ndjson`` and the manifest).
- An instance whose SOPInstanceUID is already in the image set replaces it (the last file imported wins);
  import jobs warn about a duplicate inside one job.

Exception types (no AWS page lists them all; the developer guide's examples use ``ValidationException`` for files it
cannot import, so this is an inference): a file without the Part 10 header (128-byte preamble and ``DICM``), a file
pydicom cannot read, and a file without StudyInstanceUID, SeriesInstanceUID or SOPInstanceUID each fail with
``ValidationException``.

What is stored: frames of native (uncompressed) files as explicit VR little endian bytes (big endian files are
byte-swapped), frames of encapsulated files as their original compressed bytes, in their original transfer syntax.
HTJ2K codestreams are derived from the native ones when asked for (sandbox/htj2k.py; docs/sandbox.md).
"""

from __future__ import annotations

import array
import datetime as dt
import io
import sys
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pydicom
from pydicom.dataset import Dataset
from pydicom.encaps import generate_frames
from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian

#: The transfer syntax native (uncompressed) frames are stored and served in.
NATIVE_TRANSFER_SYNTAX = str(ExplicitVRLittleEndian)
#: The exception type of a file that cannot be imported (see the module docstring).
INVALID_FILE_EXCEPTION = "ValidationException"

#: HealthImaging's normalization elements: instances of one series that differ here do not share an image set.
STUDY_NORMALIZATION_KEYWORDS = ("PatientID", "StudyDate", "AccessionNumber", "StudyID")
SERIES_NORMALIZATION_KEYWORDS = ("SeriesNumber",)
REQUIRED_UIDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")

#: Attributes kept at the Patient, Study and Series levels of the image set metadata (everything else is per
#: instance): the Patient, General Study, Patient Study and General Series modules of PS3.3.
PATIENT_KEYWORDS = frozenset(
    {"PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate", "PatientSex", "OtherPatientNames"}
    | {"PatientComments", "EthnicGroup", "PatientBirthTime"}
)
STUDY_KEYWORDS = frozenset(
    {"StudyInstanceUID", "StudyDate", "StudyTime", "ReferringPhysicianName", "StudyID", "AccessionNumber"}
    | {"StudyDescription", "PatientAge", "PatientSize", "PatientWeight", "TimezoneOffsetFromUTC"}
)
SERIES_KEYWORDS = frozenset(
    {"Modality", "SeriesInstanceUID", "SeriesNumber", "SeriesDescription", "SeriesDate", "SeriesTime"}
    | {"BodyPartExamined", "Laterality", "PerformingPhysicianName", "ProtocolName", "OperatorsName"}
    | {"PatientPosition", "FrameOfReferenceUID"}
)
#: The metadata blob's schema version (as HealthImaging's GetImageSetMetadata writes it).
METADATA_SCHEMA_VERSION = "1.1"


class UnimportableFileError(Exception):
    """A file HealthImaging would not import: ``exception_type`` and ``message`` go to ``failure.ndjson``."""

    def __init__(self, exception_type: str, message: str) -> None:
        super().__init__(f"{exception_type}: {message}")
        self.exception_type = exception_type
        self.message = message


@dataclass
class StoredInstance:
    """One imported SOP instance: its dataset (without pixel data), frames, and the original file."""

    dataset: Dataset
    part10: bytes
    #: The transfer syntax the frames are kept in (explicit VR little endian for native files).
    transfer_syntax_uid: str
    #: The transfer syntax of the file as received.
    original_transfer_syntax_uid: str
    frames: list[bytes]
    frame_ids: list[str]
    #: The dataset in the PS3.18 DICOM JSON model (no pixel data).
    dicom_json: dict[str, Any]
    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str

    @property
    def sop_class_uid(self) -> str:
        return str(self.dataset.get("SOPClassUID", ""))

    @property
    def signature(self) -> tuple[str, ...]:
        """The normalization elements' values: instances of one series share an image set only if these agree."""
        keywords = STUDY_NORMALIZATION_KEYWORDS + SERIES_NORMALIZATION_KEYWORDS
        return tuple(str(self.dataset.get(keyword, "") or "") for keyword in keywords)


def parse_part10(data: bytes) -> StoredInstance:
    """Parse one DICOM Part 10 file as an import job would; :class:`UnimportableFileError` when it cannot be imported."""
    if len(data) < 132 or data[128:132] != b"DICM":
        raise UnimportableFileError(
            INVALID_FILE_EXCEPTION, "Not a DICOM Part 10 file: no 128-byte preamble followed by DICM"
        )
    try:
        dataset = pydicom.dcmread(io.BytesIO(data))
        transfer_syntax = UID(str(dataset.file_meta.TransferSyntaxUID))
        missing = [name for name in REQUIRED_UIDS if not str(dataset.get(name, "") or "")]
        if missing:
            raise UnimportableFileError(INVALID_FILE_EXCEPTION, f"The file has no {' and no '.join(missing)}")
        frames = _frames(dataset, transfer_syntax)
        for name in ("PixelData", "FloatPixelData", "DoubleFloatPixelData"):
            if name in dataset:
                del dataset[name]
        dicom_json = dataset.to_json_dict(suppress_invalid_tags=True)
    except UnimportableFileError:
        raise
    except Exception as error:  # pydicom raises many types for a damaged file: each is the file's fault
        raise UnimportableFileError(INVALID_FILE_EXCEPTION, f"Unreadable DICOM Part 10 file: {error}") from None
    stored_syntax = str(transfer_syntax) if transfer_syntax.is_encapsulated else NATIVE_TRANSFER_SYNTAX
    return StoredInstance(
        dataset=dataset,
        part10=data,
        transfer_syntax_uid=stored_syntax,
        original_transfer_syntax_uid=str(transfer_syntax),
        frames=frames,
        frame_ids=[uuid.uuid4().hex for _ in frames],
        dicom_json=dicom_json,
        study_instance_uid=str(dataset.StudyInstanceUID),
        series_instance_uid=str(dataset.SeriesInstanceUID),
        sop_instance_uid=str(dataset.SOPInstanceUID),
    )


def _frames(dataset: Dataset, transfer_syntax: UID) -> list[bytes]:
    """The frames of the pixel data: compressed frames as they are, native ones as little endian bytes."""
    if "PixelData" not in dataset:
        return []
    count = int(dataset.get("NumberOfFrames", 1) or 1)
    pixel_data = bytes(dataset.PixelData)
    if transfer_syntax.is_encapsulated:
        return list(generate_frames(pixel_data, number_of_frames=count))
    rows, columns = int(dataset.Rows), int(dataset.Columns)
    samples, bits = int(dataset.get("SamplesPerPixel", 1)), int(dataset.BitsAllocated)
    if bits == 1:
        if count != 1:
            raise ValueError("multi-frame 1-bit pixel data is not byte-aligned per frame")
        size = (rows * columns * samples + 7) // 8
    else:
        size = rows * columns * samples * bits // 8
    if len(pixel_data) < size * count:
        raise ValueError(f"the pixel data holds {len(pixel_data)} bytes, {count} frame(s) need {size * count}")
    if transfer_syntax == ExplicitVRBigEndian and bits in (16, 32):
        words = array.array("H" if bits == 16 else "I", pixel_data[: size * count])
        words.byteswap()
        pixel_data = words.tobytes()
    return [pixel_data[index * size : (index + 1) * size] for index in range(count)]


def frame_pixel_range(instance: StoredInstance, frame: bytes) -> tuple[int, int] | None:
    """The smallest and largest stored value of a native single-sample frame (None when not computable here)."""
    dataset = instance.dataset
    if instance.transfer_syntax_uid != NATIVE_TRANSFER_SYNTAX or int(dataset.get("SamplesPerPixel", 1)) != 1:
        return None
    bits, signed = int(dataset.BitsAllocated), int(dataset.get("PixelRepresentation", 0)) == 1
    codes = {8: "b", 16: "h", 32: "i"} if signed else {8: "B", 16: "H", 32: "I"}
    code = codes.get(bits)
    if code is None or not frame:
        return None
    values = array.array(code, frame)
    if sys.byteorder == "big":
        values.byteswap()
    return min(values), max(values)


@dataclass
class ImageSet:
    """An image set: the instances of one series (primary) or of its conflicting copies (non-primary)."""

    image_set_id: str
    datastore_id: str
    arn: str
    study_instance_uid: str
    series_instance_uid: str
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    is_primary: bool = True
    deleted: bool = False
    #: The normalization elements' values this image set was created with.
    signature: tuple[str, ...] = ()
    instances: dict[str, StoredInstance] = field(default_factory=dict)

    @property
    def sop_instance_uids(self) -> set[str]:
        return set(self.instances)


@dataclass(frozen=True)
class Placement:
    """Where one added instance went."""

    image_set_id: str
    is_primary: bool


@dataclass
class AddResult:
    placements: list[Placement]
    #: ``imageSetsSummary`` entries of the manifest, one per image set touched.
    summaries: list[dict[str, Any]]


class DicomStore:
    """Image sets of every data store of one emulator, with their instances and frames, in memory."""

    def __init__(self, region: str, account_id: str) -> None:
        self.region = region
        self.account_id = account_id
        self.image_sets: dict[str, ImageSet] = {}
        self._lock = threading.Lock()
        #: frame id -> (image set id, SOPInstanceUID, frame index)
        self._frames: dict[str, tuple[str, str, int]] = {}
        #: (datastore id, StudyInstanceUID, SeriesInstanceUID, SOPInstanceUID) -> ids of the image sets holding it
        self._instances: dict[tuple[str, str, str, str], set[str]] = {}

    def add(self, datastore_id: str, instances: Sequence[StoredInstance]) -> AddResult:
        """Add instances by HealthImaging's grouping rule (module docstring): one call is one job (or one STOW)."""
        now = dt.datetime.now(dt.UTC)
        placements: dict[int, Placement] = {}
        touched: dict[str, int] = {}
        with self._lock:
            groups: dict[tuple[str, str, tuple[str, ...]], list[int]] = {}
            for index, instance in enumerate(instances):
                key = (instance.study_instance_uid, instance.series_instance_uid, instance.signature)
                groups.setdefault(key, []).append(index)
            created_in_call: set[str] = set()
            for (study, series, signature), indexes in groups.items():
                primary = self._primary(datastore_id, study, series)
                if primary is None:
                    target = self._new_image_set(datastore_id, study, series, signature, now, is_primary=True)
                elif primary.signature == signature:
                    target = primary
                else:
                    target = self._new_image_set(datastore_id, study, series, signature, now, is_primary=False)
                if target.image_set_id not in created_in_call and target.image_set_id not in touched:
                    if target.instances:
                        target.version += 1
                    else:
                        created_in_call.add(target.image_set_id)
                target.updated_at = now
                for index in indexes:
                    self._put(target, instances[index])
                    placements[index] = Placement(target.image_set_id, target.is_primary)
                touched[target.image_set_id] = touched.get(target.image_set_id, 0) + len(indexes)
            summaries = [
                {
                    "imageSetId": image_set_id,
                    "imageSetVersion": self.image_sets[image_set_id].version,
                    "isPrimary": self.image_sets[image_set_id].is_primary,
                    "numberOfMatchedSOPInstances": count,
                }
                for image_set_id, count in touched.items()
            ]
        return AddResult([placements[index] for index in range(len(instances))], summaries)

    def _primary(self, datastore_id: str, study: str, series: str) -> ImageSet | None:
        for image_set in self.image_sets.values():
            if (
                image_set.datastore_id == datastore_id
                and image_set.is_primary
                and not image_set.deleted
                and (image_set.study_instance_uid, image_set.series_instance_uid) == (study, series)
            ):
                return image_set
        return None

    def _new_image_set(
        self,
        datastore_id: str,
        study: str,
        series: str,
        signature: tuple[str, ...],
        now: dt.datetime,
        *,
        is_primary: bool,
    ) -> ImageSet:
        image_set_id = uuid.uuid4().hex
        image_set = ImageSet(
            image_set_id=image_set_id,
            datastore_id=datastore_id,
            arn=f"arn:aws:medical-imaging:{self.region}:{self.account_id}:datastore/{datastore_id}"
            f"/imageset/{image_set_id}",
            study_instance_uid=study,
            series_instance_uid=series,
            version=1,
            created_at=now,
            updated_at=now,
            is_primary=is_primary,
            signature=signature,
        )
        self.image_sets[image_set_id] = image_set
        return image_set

    def _put(self, image_set: ImageSet, instance: StoredInstance) -> None:
        replaced = image_set.instances.get(instance.sop_instance_uid)
        if replaced is not None:
            for frame_id in replaced.frame_ids:
                self._frames.pop(frame_id, None)
        image_set.instances[instance.sop_instance_uid] = instance
        key = (image_set.datastore_id, instance.study_instance_uid, instance.series_instance_uid)
        self._instances.setdefault((*key, instance.sop_instance_uid), set()).add(image_set.image_set_id)
        for index, frame_id in enumerate(instance.frame_ids):
            self._frames[frame_id] = (image_set.image_set_id, instance.sop_instance_uid, index)

    # --- reading ---------------------------------------------------------------------------------------

    def frame(self, image_set: ImageSet, frame_id: str) -> tuple[StoredInstance, int] | None:
        """The instance and index of a frame of the image set, by its id (None when the image set has no such
        frame)."""
        found = self._frames.get(frame_id)
        if found is None or found[0] != image_set.image_set_id:
            return None
        instance = image_set.instances.get(found[1])
        if instance is None:
            return None
        return instance, found[2]

    def image_sets_of(self, datastore_id: str) -> list[ImageSet]:
        """The data store's image sets that are not deleted (primary or not), oldest first."""
        with self._lock:
            return [s for s in self.image_sets.values() if s.datastore_id == datastore_id and not s.deleted]

    def primary_image_sets(self, datastore_id: str) -> list[ImageSet]:
        """The data store's primary, not deleted image sets (what DICOMweb serves), oldest first."""
        with self._lock:
            return [
                image_set
                for image_set in self.image_sets.values()
                if image_set.datastore_id == datastore_id and image_set.is_primary and not image_set.deleted
            ]

    def primary_instances(self, datastore_id: str) -> list[StoredInstance]:
        """Every instance of the data store's primary, not deleted image sets."""
        with self._lock:
            return [
                instance
                for image_set in self.image_sets.values()
                if image_set.datastore_id == datastore_id and image_set.is_primary and not image_set.deleted
                for instance in image_set.instances.values()
            ]

    def primary_instance(self, datastore_id: str, study: str, series: str, sop: str) -> StoredInstance | None:
        """One instance of the data store's primary, not deleted image sets, by its UIDs."""
        with self._lock:
            for image_set_id in self._instances.get((datastore_id, study, series, sop), ()):
                image_set = self.image_sets[image_set_id]
                if image_set.is_primary and not image_set.deleted and sop in image_set.instances:
                    return image_set.instances[sop]
        return None
