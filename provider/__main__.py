"""Hosts this project's four components as a Pulumi component provider named ``healthimaging``.

Run by the Pulumi CLI (``pulumi package add``), not by hand. The schema is inferred from the type
annotations of the components' ``TypedDict`` arguments and their annotated outputs.
"""

import sys
from pathlib import Path

# The components live beside this directory, in the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi.provider.experimental import component_provider_host

from components import HealthImagingAccess, ImagingBucketPair, ImagingDatastore, ImportJobRole

#: Components served to other languages, under the package name ``healthimaging``.
COMPONENTS = [ImagingBucketPair, ImagingDatastore, ImportJobRole, HealthImagingAccess]

if __name__ == "__main__":
    component_provider_host(components=COMPONENTS, name="healthimaging", version="0.1.0")
