"""Operational library for a deployed HealthImaging setup: verify it, import DICOM studies, read job results.

No command line, no Pulumi, no printing: functions return data and raise :class:`ahiops.errors.OpsError`
subclasses whose message tells the user what went wrong and what to do. The ``ahictl`` commands and an
event-driven importer are thin layers over it.
"""
