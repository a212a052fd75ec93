"""Make moto's S3 keep a PutObject's checksum the way S3 does, for the tests of the upload's resume check.

S3 stores the checksum a PutObject carries in an ``x-amz-checksum-<algorithm>`` header (after verifying it) and
returns it from HeadObject with ``ChecksumMode=ENABLED``. moto 5.2.5 stores it only when the request also carries
``x-amz-sdk-checksum-algorithm``, which botocore sends when it computes a checksum itself but not with a value it
was given (``ChecksumCRC64NVME=...``), and which the upload's single PutObjects do not send. Without this, every
object the upload writes in one PutObject would look to the resume check as if it had no checksum.

moto's threaded server runs in the test process, so patching its S3 response class (with ``monkeypatch``, undone
after each test) changes what the server stores. Multipart uploads are unaffected (moto keeps their checksum).
"""

from __future__ import annotations

from typing import Any

import pytest

#: The checksum algorithms S3 accepts in an ``x-amz-checksum-<algorithm>`` header.
ALGORITHMS = ("CRC64NVME", "CRC32", "CRC32C", "SHA1", "SHA256")


def store_checksum_headers_as_s3_does(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.s3.responses import S3Response

    moto_get_checksum = S3Response._get_checksum

    def get_checksum(self: Any, response_headers: dict[str, Any]) -> tuple[str, str | None]:
        algorithm, value = moto_get_checksum(self, response_headers)
        if algorithm:
            return algorithm, value
        for name in ALGORITHMS:
            header = f"x-amz-checksum-{name.lower()}"
            given = self.headers.get(header)
            if given:
                response_headers[header] = given
                return name, str(given)
        return algorithm, value

    monkeypatch.setattr(S3Response, "_get_checksum", get_checksum)
