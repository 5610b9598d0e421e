"""Scheduled scoring: detection configs, the watermarked job, model registry and anomaly events."""
