"""The job model: the job record and its state machine, its outputs, progress and results, how a job is shown, the queues' messages about it, and when its encoder counts as lost."""
