"""Tests of the SimpleDB-compatible server, over the wire with boto3."""
