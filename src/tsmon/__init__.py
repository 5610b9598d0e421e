"""tsmon: monitoring on TimescaleDB, with anomaly detection written back to SQL."""

__version__ = "0.1.0"
