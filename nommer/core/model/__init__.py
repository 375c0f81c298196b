"""The job model: the job record and its state machine, its outputs, progress and results, and how a job is shown."""
