"""The import job alerts function: tells the platform team when a HealthImaging import job fails or partly fails.

Invoked by EventBridge for HealthImaging's ``Import Job Completed`` and ``Import Job Failed`` events of one data store,
and by a schedule that sweeps the data store's recent jobs (the events are delivered best effort). Each ended job is
checked once: its manifest is read (:mod:`ahiops.manifest`, through :func:`ahiops.job_history.job_report`), an alert
is published to SNS when any file failed or the job failed, and the job is remembered in a DynamoDB table so that a
repeated event or a later sweep never alerts twice.

Modules: :mod:`.handler` (the entry point), :mod:`.config` (settings from the environment), :mod:`.alerts` (the
alert's text and JSON, pure), :mod:`.reported` (the table of reported jobs), :mod:`.checks` (one job, and the sweep).
"""
