"""``python -m ahictl``: command-line tools for this HealthImaging setup."""

from ahictl.cli import main

raise SystemExit(main())
