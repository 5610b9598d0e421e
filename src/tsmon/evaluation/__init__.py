"""Detector quality offline: the NAB corpus, its scoring rules, a causal replay of the worker."""
