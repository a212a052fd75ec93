"""``python -m ahictl view --no-browser`` in a process of its own, against a DICOMweb origin, for tests and benchmarks:
an outputs file naming the origin, an AWS environment of dummy keys only, the printed URL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from ahictl.repository import REPOSITORY_ROOT
from sandbox import DUMMY_ACCESS_KEY_ID, DUMMY_SECRET_ACCESS_KEY, MOTO_ACCOUNT_ID, TEST_REGION


def write_outputs(path: Path, datastore_id: str, dicomweb_url: str | None) -> Path:
    """A stack outputs file (`pulumi stack output --json`) for ``datastore_id``, with ``dicomwebUrl`` when given."""
    account, region = MOTO_ACCOUNT_ID, TEST_REGION
    data = {
        "accountId": account,
        "region": region,
        "inputBucketName": "hi-input",
        "outputBucketName": "hi-output",
        "datastoreId": datastore_id,
        "datastoreArn": f"arn:aws:medical-imaging:{region}:{account}:datastore/{datastore_id}",
        "importRoleArn": f"arn:aws:iam::{account}:role/import",
    }
    if dicomweb_url is not None:
        data["dicomwebUrl"] = dicomweb_url
    path.write_text(json.dumps(data))
    return path


def dummy_aws_environment(home: Path) -> dict[str, str]:
    """This process's environment without its AWS settings: the dummy keys, no config or credentials files."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    environment.update(
        AWS_ACCESS_KEY_ID=DUMMY_ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY=DUMMY_SECRET_ACCESS_KEY,
        AWS_CONFIG_FILE=str(home / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    return environment


class ViewProcess:
    """A running ``ahictl view --no-browser``: :attr:`url` is what it printed; :meth:`stop` sends Ctrl-C."""

    def __init__(self, outputs: Path, *arguments: str, environment: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ahictl", "view", "--outputs", str(outputs), "--no-browser", *arguments],
            cwd=REPOSITORY_ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("Viewer: "):
            self.process.kill()
            _, stderr = self.process.communicate(timeout=30)
            raise RuntimeError(f"ahictl view printed {line!r} instead of the Viewer: line; stderr: {stderr}")
        self.url = line.removeprefix("Viewer: ").strip()

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = 30) -> tuple[int, str, str]:
        """Ctrl-C; the exit code and the rest of stdout and stderr."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            stdout, stderr = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            stdout, stderr = self.process.communicate(timeout=timeout)
        return self.process.returncode, stdout, stderr
