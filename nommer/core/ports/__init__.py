"""The ports: what the feeder and the encoders need from a job store, a work queue, storage and a fleet. Adapters are in nommer.core.adapters."""
