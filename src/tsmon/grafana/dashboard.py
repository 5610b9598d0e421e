"""A dashboard: panels laid out in rows of the 24-column grid, ids assigned, as classic dashboard JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tsmon.grafana.panels import Json, Panel

# Grafana 12.2 migrates anything older on load; never newer than the pinned image understands.
SCHEMA_VERSION = 41
GRID_COLUMNS = 24
TAG = "tsmon"


@dataclass
class Dashboard:
    """One dashboard; ``rows`` are lists of panels placed left to right, each row below the previous."""

    uid: str
    title: str
    description: str
    rows: list[list[Panel]]
    time_from: str = "now-6h"
    refresh: str = "1m"
    variables: list[Json] = field(default_factory=list)
    annotations: list[Json] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)

    def panels(self) -> list[Json]:
        """Every panel with a unique id and its gridPos; a row wider than the grid is an error."""
        out: list[Json] = []
        y, next_id = 0, 1
        for row in self.rows:
            width = sum(p.w for p in row)
            if width > GRID_COLUMNS:
                titles = [p.body.get("title") for p in row]
                raise ValueError(f"dashboard {self.uid}: row {titles} is {width} columns wide (max 24)")
            x = 0
            for panel in row:
                out.append(
                    {"id": next_id, "gridPos": {"h": panel.h, "w": panel.w, "x": x, "y": y}, **panel.body}
                )
                next_id += 1
                x += panel.w
            y += max((p.h for p in row), default=0)
        return out

    def to_json(self) -> dict[str, Any]:
        builtin: Json = {
            "builtIn": 1,
            "datasource": {"type": "grafana", "uid": "-- Grafana --"},
            "enable": True,
            "hide": True,
            "iconColor": "rgba(0, 211, 255, 1)",
            "name": "Annotations & Alerts",
            "type": "dashboard",
        }
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": sorted({TAG, *self.tags}),
            "timezone": "utc",
            "schemaVersion": SCHEMA_VERSION,
            "version": 1,
            "editable": True,
            "graphTooltip": 1,
            "refresh": self.refresh,
            "time": {"from": self.time_from, "to": "now"},
            "timepicker": {},
            "fiscalYearStartMonth": 0,
            "liveNow": False,
            "links": [
                {
                    "title": "tsmon",
                    "type": "dashboards",
                    "tags": [TAG],
                    "asDropdown": True,
                    "includeVars": False,
                    "keepTime": True,
                }
            ],
            "templating": {"list": self.variables},
            "annotations": {"list": [builtin, *self.annotations]},
            "panels": self.panels(),
        }
