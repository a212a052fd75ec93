"""Hosts this project's components as a Pulumi component provider named ``healthimaging``.

Run by the Pulumi CLI (``pulumi package add <repository>/provider@v<version>``), which starts it as
``python provider <engine address>``; it prints the port of its gRPC server. The schema is inferred from the
type annotations of the components' ``TypedDict`` arguments and their annotated outputs; the version served
is ``pyproject.toml``'s (``provider/component_provider.py``).
"""

import sys
from pathlib import Path

# Run as a file (python provider): the components live beside this directory, in the repository root.
if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi.provider import main

from components import (
    AuditTrail,
    AutoImport,
    DicomwebAuthorizer,
    HealthImagingAccess,
    ImagingBucketPair,
    ImagingDatastore,
    ImagingViewer,
    ImportJobAlerts,
    ImportJobRole,
)
from provider.component_provider import HealthImagingProvider, package_version

#: Components served to other languages, under the package name ``healthimaging``.
COMPONENTS = [
    ImagingBucketPair,
    ImagingDatastore,
    ImportJobRole,
    HealthImagingAccess,
    ImportJobAlerts,
    AuditTrail,
    AutoImport,
    DicomwebAuthorizer,
    ImagingViewer,
]


def build_provider() -> HealthImagingProvider:
    """The provider the plugin serves: the components above, at ``pyproject.toml``'s version."""
    return HealthImagingProvider(COMPONENTS, version=package_version())


if __name__ == "__main__":
    main(build_provider(), sys.argv[1:])
