"""The `tsmon worker` process: an APScheduler 3 scheduler whose jobs are module-level functions."""

from tsmon.worker.context import WorkerContext, WorkerMetrics, own_samples
from tsmon.worker.jobs import (
    attach_changes,
    collect_host_metrics,
    feed_demo,
    heartbeat,
    maintain_windows,
    record_own_metrics,
    run_detection,
    scrape_targets,
)
from tsmon.worker.scheduler import build_scheduler, run_worker

__all__ = [
    "WorkerContext",
    "WorkerMetrics",
    "attach_changes",
    "build_scheduler",
    "collect_host_metrics",
    "feed_demo",
    "heartbeat",
    "maintain_windows",
    "own_samples",
    "record_own_metrics",
    "run_detection",
    "run_worker",
    "scrape_targets",
]
