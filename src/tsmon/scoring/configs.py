"""Detection configs: which series to score how; editable with SQL or applied from a YAML file."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from tsmon.db import Conn
from tsmon.detection import DETECTORS
from tsmon.errors import TsmonError

MATCH_OPS = {"=": "=", "!=": "<>", "=~": "~", "!~": "!~"}
STEP = {"1m": timedelta(minutes=1), "1h": timedelta(hours=1)}
MAX_THRESHOLD = 0.9999
# The detector a config gets when it names none (also the column default, migrations/0006).
DEFAULT_DETECTOR = "onset"


class DetectionConfigError(TsmonError):
    """A detection config (YAML or row) is invalid; the message names the config and field."""


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
_INTERVALS = {"training_window", "retrain_every", "schedule", "min_duration"}
_DURATION = re.compile(r"^(\d+)\s*(s|m|h|d|w)$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _interval(value: object, where: str) -> timedelta:
    m = _DURATION.match(str(value).strip())
    if not m:
        raise DetectionConfigError(f"{where}: {value!r} is not a duration like 30s, 5m, 1h, 7d")
    return timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})


def validate(raw: dict[str, Any], where: str) -> dict[str, Any]:
    """Check one config mapping (from YAML) and normalise it to column values."""
    unknown = set(raw) - _FIELDS
    if unknown:
        raise DetectionConfigError(f"{where}: unknown keys {sorted(unknown)}")
    for key in ("name", "metric"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise DetectionConfigError(f"{where}: {key} is required")
    out = dict(raw)
    if out.get("detector", DEFAULT_DETECTOR) not in DETECTORS:
        raise DetectionConfigError(f"{where}: detector must be one of {sorted(DETECTORS)}")
    if out.get("resolution", "1m") not in STEP:
        raise DetectionConfigError(f"{where}: resolution must be 1m or 1h")
    for m in out.get("matchers", []):
        if not isinstance(m, dict) or set(m) != {"label", "op", "value"} or m["op"] not in MATCH_OPS:
            raise DetectionConfigError(f"{where}: matchers are {{label, op, value}}, op one of = != =~ !~")
        if m["op"] in ("=~", "!~"):
            try:
                re.compile(m["value"])
            except re.error as exc:
                raise DetectionConfigError(f"{where}: matcher regex {m['value']!r}: {exc}") from exc
    for key in _INTERVALS & set(out):
        out[key] = _interval(out[key], f"{where}.{key}")
    sensitivity = out.get("sensitivity", 0.99)
    if not isinstance(sensitivity, int | float) or not 0 < sensitivity < 1:
        raise DetectionConfigError(f"{where}: sensitivity is a score threshold between 0 and 1, e.g. 0.99")
    return out


def apply_yaml(conn: Conn, text: str) -> list[str]:
    """Insert or update (by name) every config in a YAML document `configs: [...]`; returns the names."""
    doc = yaml.safe_load(text) or {}
    items = doc.get("configs") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise DetectionConfigError("expected a mapping with a list under `configs`")
    rows = [validate(item, f"configs[{i}]") for i, item in enumerate(items)]
    with conn.transaction():
        for row in rows:
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


def load_configs(conn: Conn, enabled_only: bool = True) -> list[DetectionConfig]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            sql.SQL("SELECT {cols} FROM tsmon.detection_configs WHERE enabled OR NOT %s ORDER BY id").format(
                cols=sql.SQL(", ").join(map(sql.Identifier, ["id", *sorted(_FIELDS)]))
            ),
            (enabled_only,),
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
