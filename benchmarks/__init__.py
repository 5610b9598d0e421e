"""Benchmarks: each prints figures and ends with one JSON line."""
