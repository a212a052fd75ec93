"""HealthImaging's service quotas and rates that the importer plans around (one source of truth).

Values from the AWS General Reference and the HealthImaging developer guide; see
``healthimaging-facts.md`` in the project's reference notes. The per-job file count is adjustable by a quota
increase (hence ``--max-files-per-job``); the byte limits are not.
"""

from __future__ import annotations

from typing import Final

GB: Final = 1024**3

#: Regions where AWS HealthImaging runs (AWS General Reference). botocore cannot tell which regions offer the service,
#: so the project keeps this list: the components' region rule and ``ahictl verify``'s region check read it.
HEALTHIMAGING_REGIONS: Final[tuple[str, ...]] = ("us-east-1", "us-west-2", "eu-west-1", "eu-west-2", "ap-southeast-2")

#: Files in one DICOM import job (adjustable quota).
MAX_FILES_PER_JOB: Final = 5_000
#: Total bytes in one import job (not adjustable).
MAX_BYTES_PER_JOB: Final = 10 * GB
#: Bytes in one DICOM file.
MAX_BYTES_PER_FILE: Final = 10 * GB
#: Nested folders under one job's input prefix.
MAX_FOLDERS_PER_JOB: Final = 10_000

#: Concurrent import jobs per data store (the default quota), and the regions with a lower one.
DEFAULT_MAX_CONCURRENT_JOBS: Final = 100
MAX_CONCURRENT_JOBS_BY_REGION: Final = {"ap-southeast-2": 20}

#: StartDICOMImportJob: requests per second, and the burst above that rate.
START_JOB_RATE_PER_SECOND: Final = 1.0
START_JOB_BURST: Final = 2
#: GetDICOMImportJob: requests per second.
GET_JOB_RATE_PER_SECOND: Final = 25.0
#: ListDICOMImportJobs: largest page.
LIST_JOBS_MAX_RESULTS: Final = 50


#: Files uploaded at once by default (``ahictl import --concurrency``), per upload engine.
DEFAULT_CONCURRENCY: Final = {"crt": 64, "classic": 10}
#: The most files in flight the importer allows: each holds a connection, a thread or CRT buffers, and on one machine
#: more than this uploads no faster (100,000 made thousands of threads and hundreds of MB for nothing).
MAX_CONCURRENCY: Final = 256


def max_concurrent_jobs(region: str) -> int:
    """The default quota of concurrent import jobs per data store in ``region``."""
    return MAX_CONCURRENT_JOBS_BY_REGION.get(region, DEFAULT_MAX_CONCURRENT_JOBS)
