"""The feeder's logic: accepting jobs, scaling, reaping, webhooks, metrics; plain classes the feeder's actors hold."""
