"""Benchmarks of coresweep itself (not unit tests): run with ``python -m benchmarks.NAME``."""
