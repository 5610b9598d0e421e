"""Host: the node_exporter-named metrics `tsmon worker` collects from its machine (tsmon.scrape.host)."""

from __future__ import annotations

from tsmon.grafana.dashboard import Dashboard
from tsmon.grafana.panels import Query, stat, timeseries
from tsmon.grafana.queries import by_label, grouped, literal, single
from tsmon.grafana.templating import query_variable

UID = "tsmon-host"
INSTANCE = "labels ->> 'instance' IN (${instance:sqlstring})"

INSTANCES = (
    "SELECT DISTINCT labels ->> 'instance' FROM tsmon.metric_series WHERE metric = 'node_load1' ORDER BY 1"
)
# Busy share of all CPUs by mode: per-CPU seconds per second, summed, divided by the CPU count.
CPU = grouped(
    "node_cpu_seconds_total",
    "w.labels ->> 'mode'",
    "sum(w.rate) / nullif(count(DISTINCT w.labels ->> 'cpu'), 0)",
    where=f"labels ->> 'mode' <> 'idle' AND {INSTANCE}",
)
LOAD = grouped(["node_load1", "node_load5", "node_load15"], "w.metric", "avg(w.avg)", where=INSTANCE)
MEMORY = grouped(
    ["node_memory_MemTotal_bytes", "node_memory_MemAvailable_bytes", "node_memory_Cached_bytes",
     "node_memory_Buffers_bytes"],
    "replace(replace(w.metric, 'node_memory_', ''), '_bytes', '')",
    "avg(w.avg)",
    where=INSTANCE,
)  # fmt: skip
_AVAIL, _SIZE = literal("node_filesystem_avail_bytes"), literal("node_filesystem_size_bytes")
FILESYSTEM = grouped(
    ["node_filesystem_avail_bytes", "node_filesystem_size_bytes"],
    "w.labels ->> 'mountpoint'",
    f"1 - avg(w.avg) FILTER (WHERE w.metric = {_AVAIL})"
    f" / nullif(avg(w.avg) FILTER (WHERE w.metric = {_SIZE}), 0)",
    where=INSTANCE,
)
DISK = grouped(
    ["node_disk_read_bytes_total", "node_disk_written_bytes_total"],
    "(w.labels ->> 'device')"
    " || CASE w.metric WHEN 'node_disk_read_bytes_total' THEN ' read' ELSE ' written' END",
    "sum(w.rate)",
    where=INSTANCE,
)
NETWORK = grouped(
    ["node_network_receive_bytes_total", "node_network_transmit_bytes_total"],
    "(w.labels ->> 'device')"
    " || CASE w.metric WHEN 'node_network_receive_bytes_total' THEN ' in' ELSE ' out' END",
    "sum(w.rate) * 8",
    where=INSTANCE,
)
NETWORK_ERRORS = grouped(
    ["node_network_receive_errs_total", "node_network_transmit_errs_total"],
    "(w.labels ->> 'device')"
    " || CASE w.metric WHEN 'node_network_receive_errs_total' THEN ' in' ELSE ' out' END",
    "sum(w.rate)",
    where=INSTANCE,
)
SWAP = grouped(
    ["node_memory_SwapTotal_bytes", "node_memory_SwapFree_bytes"],
    "replace(replace(w.metric, 'node_memory_', ''), '_bytes', '')",
    "avg(w.avg)",
    where=INSTANCE,
)
UPTIME = single("node_boot_time_seconds", "extract(epoch FROM w.time)::float8 - max(w.last)", "uptime",
                where=INSTANCE)  # fmt: skip
CPU_BUSY = single(
    "node_cpu_seconds_total",
    "sum(w.rate) / nullif(count(DISTINCT w.labels ->> 'cpu'), 0)",
    "busy",
    where=f"labels ->> 'mode' NOT IN ('idle', 'iowait') AND {INSTANCE}",
)
MEMORY_AVAILABLE = single("node_memory_MemAvailable_bytes", "sum(w.last)", "available", where=INSTANCE)
LOAD1 = by_label("node_load1", "instance", "avg(w.avg)", where=INSTANCE)


def build() -> Dashboard:
    return Dashboard(
        UID,
        "tsmon / Host",
        "This machine as `tsmon worker` sees it (node_exporter metric names), every 15 s.",
        rows=[
            [
                stat(
                    "CPU busy",
                    Query(CPU_BUSY),
                    unit="percentunit",
                    thresholds=[(0.8, "orange"), (0.95, "red")],
                ),
                stat("Load (1 min)", Query(LOAD1)),
                stat("Uptime", Query(UPTIME), unit="s"),
                stat("Memory available", Query(MEMORY_AVAILABLE), unit="bytes"),
            ],
            [
                timeseries(
                    "CPU by mode",
                    Query(CPU),
                    unit="percentunit",
                    stack=True,
                    description="Share of all CPUs busy in each mode (idle left out).",
                ),
                timeseries("Load average", Query(LOAD)),
            ],
            [
                timeseries("Memory", Query(MEMORY), unit="bytes"),
                timeseries(
                    "Filesystem used",
                    Query(FILESYSTEM),
                    unit="percentunit",
                    min_value=0,
                    max_value=1,
                    thresholds=[(0.9, "red")],
                ),
            ],
            [
                timeseries("Disk throughput", Query(DISK), unit="Bps"),
                timeseries("Network traffic", Query(NETWORK), unit="bps"),
            ],
            [
                timeseries("Network errors", Query(NETWORK_ERRORS), unit="short"),
                timeseries("Swap", Query(SWAP), unit="bytes"),
            ],
        ],
        variables=[query_variable("instance", "Host", INSTANCES, multi=True, include_all=True)],
    )
