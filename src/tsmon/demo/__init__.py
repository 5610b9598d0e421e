"""Demo workload: synthetic series with injected anomalies, and the detection configs that find them."""

from pathlib import Path

from tsmon.demo.workload import backfill, demo_series, feed, start

DEMO_CONFIGS = Path(__file__).parent / "demo_configs.yaml"

__all__ = ["DEMO_CONFIGS", "backfill", "demo_series", "feed", "start"]
