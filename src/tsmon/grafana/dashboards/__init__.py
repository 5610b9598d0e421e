"""Every tsmon dashboard, one module each; ``all_dashboards()`` builds them in a stable order."""

from __future__ import annotations

from tsmon.grafana.dashboard import Dashboard
from tsmon.grafana.dashboards import anomalies, compare, explorer, host, overview, tsmon_self


def all_dashboards() -> list[Dashboard]:
    return [
        overview.build(),
        explorer.build(),
        anomalies.build(),
        compare.build(),
        host.build(),
        tsmon_self.build(),
    ]


__all__ = ["all_dashboards", "anomalies", "compare", "explorer", "host", "overview", "tsmon_self"]
