"""Detection configs: which series to score how; editable with SQL or applied from a YAML file."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from tsmon.db import Conn
from tsmon.scoring.config_file import (
    DEFAULT_DETECTOR,
    MATCH_OPS,
    STEP,
    DetectionConfigError,
    load_document,
    validate,
)

__all__ = [
    "DEFAULT_DETECTOR",
    "MATCH_OPS",
    "MAX_THRESHOLD",
    "STEP",
    "DetectionConfig",
    "DetectionConfigError",
    "apply_default_configs",
    "apply_default_configs_if_none",
    "apply_yaml",
    "load_configs",
]
MAX_THRESHOLD = 0.9999


@dataclass(frozen=True)
class DetectionConfig:
    id: int
    name: str
    metric: str
    matchers: list[dict[str, str]] = field(default_factory=list)
    resolution: str = "1m"
    detector: str = DEFAULT_DETECTOR
    params: dict[str, Any] = field(default_factory=dict)
    # Two weeks: a weekly cycle seen twice (NAB: 1d 27, 3d 40, 7d 59, 14d 63 standard; docs/detection.md).
    training_window: timedelta = timedelta(days=14)
    retrain_every: timedelta = timedelta(days=1)
    schedule: timedelta = timedelta(minutes=1)
    sensitivity: float = 0.99
    threshold_raise: float = 0.0
    min_duration: timedelta = timedelta(0)
    critical_score: float = 0.9999
    alert_labels: dict[str, str] = field(default_factory=dict)
    shards: int = 8
    enabled: bool = True

    @property
    def threshold(self) -> float:
        """The score from which a point is anomalous: sensitivity, raised by false-positive feedback."""
        return min(self.sensitivity + self.threshold_raise, MAX_THRESHOLD)

    @property
    def step(self) -> timedelta:
        return STEP[self.resolution]

    def series_filter(self) -> tuple[sql.Composed, list[object]]:
        """WHERE clause over tsmon.series (alias s) selecting this config's series; values as parameters."""
        parts: list[sql.Composable] = [sql.SQL("s.metric = %s")]
        params: list[object] = [self.metric]
        for m in self.matchers:
            parts.append(sql.SQL("coalesce(s.labels ->> %s, '') {} %s").format(sql.SQL(MATCH_OPS[m["op"]])))
            params += [m["label"], m["value"]]
        return sql.SQL(" AND ").join(parts), params


_FIELDS = {f for f in DetectionConfig.__dataclass_fields__ if f != "id"}
_JSON = {"matchers", "params", "alert_labels"}


def _check_regexes(conn: Conn, row: dict[str, Any], where: str) -> None:
    """Compile each regex matcher in PostgreSQL, which runs them (its syntax is not Python's)."""
    for i, m in enumerate(row.get("matchers", [])):
        if m["op"] in ("=~", "!~"):
            try:
                with conn.transaction():
                    conn.execute("SELECT '' ~ %s", (m["value"],))
            except psycopg.errors.InvalidRegularExpression as exc:
                msg = f"{where}.matchers[{i}].value: PostgreSQL cannot use the regex {m['value']!r}: "
                raise DetectionConfigError(msg + str(exc.diag.message_primary)) from exc


def apply_yaml(conn: Conn, text: str) -> list[str]:
    """Insert or update (by name) every config in a YAML document `configs: [...]`; returns the names."""
    rows = [validate(item, f"configs[{i}]") for i, item in enumerate(load_document(text))]
    names = [row["name"] for row in rows]
    if len(set(names)) != len(names):
        raise DetectionConfigError("two configs in the file share a name")
    with conn.transaction():
        for i, row in enumerate(rows):
            _check_regexes(conn, row, f"configs[{i}] ({row['name']})")
            cols = sorted(row)
            values = [Jsonb(row[c]) if c in _JSON else row[c] for c in cols]
            conn.execute(
                sql.SQL(
                    "INSERT INTO tsmon.detection_configs ({cols}) VALUES ({vals}) "
                    "ON CONFLICT (name) DO UPDATE SET {sets}, updated_at = now()"
                ).format(
                    cols=sql.SQL(", ").join(map(sql.Identifier, cols)),
                    vals=sql.SQL(", ").join(sql.Placeholder() * len(cols)),
                    sets=sql.SQL(", ").join(
                        sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in cols
                    ),
                ),
                values,
            )
    return [str(r["name"]) for r in rows]


def load_configs(
    conn: Conn, enabled_only: bool = True, config_id: int | None = None
) -> list[DetectionConfig]:
    """The configs (enabled ones only, by default), by id; ``config_id``: only that one."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            sql.SQL(
                "SELECT {cols} FROM tsmon.detection_configs WHERE (enabled OR NOT %s) "
                "AND (id = %s OR %s::bigint IS NULL) ORDER BY id"
            ).format(cols=sql.SQL(", ").join(map(sql.Identifier, ["id", *sorted(_FIELDS)]))),
            (enabled_only, config_id, config_id),
        )
        return [DetectionConfig(**row) for row in cur.fetchall()]


def apply_default_configs(conn: Conn) -> list[str]:
    """Detection for the host metrics `tsmon worker` collects (what `make run` starts with)."""
    return apply_yaml(conn, (Path(__file__).parent / "default_configs.yaml").read_text())


def apply_default_configs_if_none(conn: Conn) -> list[str]:
    """The default configs, on a database that has no detection config yet (else nothing)."""
    if conn.execute("SELECT EXISTS (SELECT 1 FROM tsmon.detection_configs)").fetchone() == (True,):
        return []
    return apply_default_configs(conn)
