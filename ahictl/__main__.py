"""``python -m ahictl``: command-line tools for this HealthImaging setup."""

import os
import sys

from ahictl.cli import main

code = main()
sys.stdout.flush()
sys.stderr.flush()
# Leave without interpreter teardown: the Pulumi SDK's mock monitor gives each worker thread an event
# loop of its own, and collecting those late prints a spurious "Exception ignored" message.
os._exit(code)
