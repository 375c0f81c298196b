"""The Scaler's simulator: replays a trace of jobs through the real policy
(``nommer.core.feeder.scaling.decide``, the function the feeder's Scaler calls) on
a simulated clock and fleet, and counts what the fleet cost and how long
jobs waited. ``python -m nommer.sim --help``; docs/benchmarks.md has results.
"""
