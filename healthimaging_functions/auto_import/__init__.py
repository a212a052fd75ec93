"""The automatic importer's function: turns batches that land in the input bucket into HealthImaging import jobs.

S3 sends the input bucket's ``Object Created`` events to EventBridge; a rule sends those under ``incoming/`` to an
encrypted SQS queue (with a dead-letter queue); Lambda hands the queue's messages to this function, a few at a time
and with bounded concurrency. Batches whose jobs run are followed on a second queue, whose copies of the function
only poll: a copy waiting for a place in the job quota never holds up another batch's result. For each batch the
function runs the steps of :class:`ahiops.auto_import_steps.BatchImporter` (check the files, plan and start the jobs with
content-derived client tokens, follow them, write ``_RESULT.json``, alert). A batch that must wait (the job quota is full, starts are throttled, its jobs are running, its quiet period is
not over) goes back on the queue as a new message with a delay, before the message it came in is deleted: it is never
dropped, and waiting does not count against the dead-letter queue's receive limit. A message whose handling fails is
reported as a batch item failure: SQS hands it out again, and after the queue's receive limit it moves to the
dead-letter queue.

Modules: :mod:`.handler` (the entry point), :mod:`.config` (settings from the environment), :mod:`.messages` (the
queue's messages and the delays, pure).
"""
