"""Grafana alerting provisioning from code: rules, contact points, notification policy, message template."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tsmon.grafana.dashboards import explorer, overview
from tsmon.grafana.panels import DATASOURCE_UID, Json

FOLDER = "tsmon"
GROUP = "tsmon"
GROUP_INTERVAL = "1m"
RUNBOOK = "https://github.com/tsmon/tsmon/blob/main/README.md#alerts"
STALE_INGEST_MINUTES = 5
WORKER_LAG_EXCESS_SECONDS = 600
WHAT_CHANGED_WAIT_SECONDS = 300
RECEIVER = "tsmon"
WATCHDOG_RECEIVER = "tsmon-watchdog"
TEMPLATE = "tsmon"
# Contact point settings are env-interpolated by Grafana at provisioning; docker-compose.yml passes these.
WEBHOOK_URL_ENV = "TSMON_ALERT_WEBHOOK_URL"
EMAIL_ENV = "TSMON_ALERT_EMAIL"
WATCHDOG_URL_ENV = "TSMON_WATCHDOG_WEBHOOK_URL"


@dataclass(frozen=True)
class Rule:
    """One alert rule: a self-contained SQL query (table format) and one threshold on its numeric column."""

    uid: str
    title: str
    sql: str
    evaluator: str  # gt | lt
    threshold: float
    for_: str
    summary: str
    description: str
    no_data: str = "OK"
    labels: tuple[tuple[str, str], ...] = ()
    dashboard_uid: str = overview.UID
    range_seconds: int = 600

    def to_json(self) -> Json:
        query: Json = {
            "refId": "A",
            "relativeTimeRange": {"from": self.range_seconds, "to": 0},
            "datasourceUid": DATASOURCE_UID,
            "model": {
                "refId": "A",
                "datasource": {"type": "grafana-postgresql-datasource", "uid": DATASOURCE_UID},
                "rawSql": self.sql,
                "format": "table",
                "editorMode": "code",
                "rawQuery": True,
                "intervalMs": 60000,
                "maxDataPoints": 43200,
            },
        }
        condition: Json = {
            "refId": "B",
            "relativeTimeRange": {"from": 0, "to": 0},
            "datasourceUid": "__expr__",
            "model": {
                "refId": "B",
                "type": "threshold",
                "expression": "A",
                "datasource": {"type": "__expr__", "uid": "__expr__"},
                "conditions": [{"evaluator": {"type": self.evaluator, "params": [self.threshold]}}],
            },
        }
        return {
            "uid": self.uid,
            "title": self.title,
            "condition": "B",
            "data": [query, condition],
            "for": self.for_,
            "noDataState": self.no_data,
            "execErrState": "Error",
            "isPaused": False,
            "labels": dict(self.labels),
            "annotations": {
                "summary": self.summary,
                "description": self.description,
                "runbook_url": RUNBOOK,
                "__dashboardUid__": self.dashboard_uid,
            },
        }


def firing(rule: Rule, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> list[dict[str, str]]:
    """Grafana's threshold on a table result: each row is one alert instance, labelled by its string
    columns; the instances whose numeric value passes the threshold fire (no rows: nothing fires)."""
    out = []
    for row in rows:
        labels = {c: v for c, v in zip(columns, row, strict=True) if isinstance(v, str)}
        value = next(
            float(v) for v in row if isinstance(v, int | float | Decimal) and not isinstance(v, bool)
        )
        if value > rule.threshold if rule.evaluator == "gt" else value < rule.threshold:
            out.append(labels | dict(rule.labels))
    return out


def anomaly_rule(severity: str) -> Rule:
    """Open anomaly events of one severity that have lasted their config's min_duration."""
    # The config's alert_labels come as one text label (Grafana's label names are fixed by the columns):
    # route on them with a regex matcher, e.g. alert_labels =~ .*team="web".*
    # what_changed: the top 3 of the worker's what-changed run for the event. An event waits for its run
    # (about a minute after onset), so the label is there from the first notification and the instance
    # never changes labels; one whose run is late still fires WHAT_CHANGED_WAIT later, without it.
    sql = f"""SELECT metric, series, host, config, severity, series_id::text AS series_id,
       alert_labels_text AS alert_labels,
       coalesce((SELECT string_agg(c.metric || tsmon.format_labels(c.labels), ', ' ORDER BY c.rank)
                 FROM tsmon.anomaly_changes c WHERE c.anomaly_id = max(a.anomaly_id) AND c.rank <= 3), '')
           AS what_changed,
       max(peak_score) AS peak_score
FROM tsmon.open_anomaly_alerts a
WHERE severity = '{severity}'
  AND (EXISTS (SELECT 1 FROM tsmon.anomaly_changes c WHERE c.anomaly_id = a.anomaly_id)
       OR duration_seconds >= min_duration_seconds + {WHAT_CHANGED_WAIT_SECONDS})
GROUP BY metric, series, host, config, severity, series_id, alert_labels_text
ORDER BY metric, series, config"""
    link = f"/d/{explorer.UID}?var-metric={{{{ $labels.metric }}}}&var-series={{{{ $labels.series_id }}}}"
    return Rule(
        uid=f"tsmon-anomaly-{severity}",
        title=f"Anomaly ({severity})",
        sql=sql,
        evaluator="gt",
        threshold=0,
        for_="0s",  # the detection config's min_duration is already applied by the query
        summary="{{ $labels.severity }} anomaly on {{ $labels.metric }}{{ $labels.series }}",
        description="Detection config {{ $labels.config }} has an open {{ $labels.severity }} anomaly "
        "event on {{ $labels.metric }}{{ $labels.series }} (host {{ $labels.host }}), peak score "
        "{{ $values.A.Value }}. What changed most with it: {{ $labels.what_changed }}. Explorer: " + link,
        dashboard_uid=explorer.UID,
    )


def rules() -> list[Rule]:
    return [
        anomaly_rule("critical"),
        anomaly_rule("warning"),
        Rule(
            uid="tsmon-ingest-stale",
            title="Ingest stale",
            # The condition is also in SQL: a rule that must not fire returns no rows (noDataState OK).
            sql="SELECT seconds_since_newest_sample FROM tsmon.ingest_freshness "
            f"WHERE seconds_since_newest_sample > {STALE_INGEST_MINUTES * 60}",
            evaluator="gt",
            threshold=STALE_INGEST_MINUTES * 60,
            for_="1m",
            summary=f"No samples stored for more than {STALE_INGEST_MINUTES} minutes",
            description="The newest sample in tsmon is {{ $values.A.Value }} seconds old: senders, the API "
            "or the worker are down, or the database refuses writes.",
            labels=(("severity", "critical"),),
        ),
        Rule(
            uid="tsmon-worker-lag",
            title="Detection lagging",
            sql="SELECT config, excess_lag_seconds FROM tsmon.detection_lag "
            f"WHERE excess_lag_seconds > {WORKER_LAG_EXCESS_SECONDS} ORDER BY config",
            evaluator="gt",
            threshold=WORKER_LAG_EXCESS_SECONDS,
            for_="5m",
            summary="Detection config {{ $labels.config }} is lagging",
            description="The oldest complete window of {{ $labels.config }} not scored yet has waited "
            "{{ $values.A.Value }} seconds: workers are down, overloaded or failing.",
            labels=(("severity", "warning"),),
        ),
        Rule(
            uid="tsmon-windows-behind",
            title="Windows behind",
            sql="SELECT resolution, engine, coalesce(lag_seconds, 'Infinity') AS lag_seconds "
            "FROM tsmon.windows_freshness WHERE behind ORDER BY resolution",
            evaluator="gt",
            threshold=0,
            for_="10m",
            summary="The {{ $labels.resolution }} windows are not current",
            description="The {{ $labels.resolution }} windows ({{ $labels.engine }}) are materialised only "
            "up to {{ $values.A.Value }} seconds ago: the worker is down, or neither the refresh "
            "policies nor the worker's own refresh succeed (tsmon windows status).",
            labels=(("severity", "warning"),),
        ),
        Rule(
            uid="tsmon-timescaledb-jobs-failing",
            title="TimescaleDB jobs failing",
            # The worker's own metric, stored like any other (one sample per job every 15 s).
            sql="SELECT proc, relation, failing FROM (SELECT DISTINCT ON (series_id) "
            "labels->>'proc' AS proc, labels->>'relation' AS relation, value AS failing "
            "FROM tsmon.metric_samples WHERE metric = 'tsmon_timescaledb_job_failing' "
            "AND time > now() - interval '5 minutes' ORDER BY series_id, time DESC) latest "
            "WHERE failing > 0 ORDER BY 1, 2",
            evaluator="gt",
            threshold=0,
            for_="30m",
            summary="TimescaleDB policy {{ $labels.proc }} on {{ $labels.relation }} keeps failing",
            description="Its last runs failed (tsmon windows status shows the error). Windows stay current: "
            "the worker refreshes the continuous aggregates itself while the policies fall behind.",
            labels=(("severity", "warning"),),
        ),
        Rule(
            uid="tsmon-watchdog",
            title="Watchdog",
            sql="SELECT 1 AS watchdog",
            evaluator="gt",
            threshold=0,
            for_="0s",
            summary="Always firing: proves the alerting pipeline works end to end",
            description="Route this to a dead man's switch; its silence means alerting is broken.",
            no_data="Alerting",
            labels=(("severity", "none"),),
        ),
    ]


def _template() -> str:
    # No dollar signs: Grafana may env-interpolate provisioning values.
    title = (
        '{{ define "tsmon.title" }}[{{ .Status | toUpper }}'
        '{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] '
        "{{ .CommonLabels.alertname }} {{ .CommonLabels.metric }}{{ end }}"
    )
    message = (
        '{{ define "tsmon.message" }}{{ range .Alerts }}{{ .Status | toUpper }} {{ .Labels.alertname }} '
        "{{ .Labels.metric }}{{ .Labels.series }}\n{{ .Annotations.summary }}\n"
        "{{ .Annotations.description }}\nRunbook: {{ .Annotations.runbook_url }}\n"
        "{{ if .DashboardURL }}Dashboard: {{ .DashboardURL }}\n{{ end }}{{ end }}{{ end }}"
    )
    return title + "\n" + message


def provisioning(rule_list: Sequence[Rule] | None = None) -> dict[str, Any]:
    """The whole alerting provisioning file."""
    title, message = '{{ template "tsmon.title" . }}', '{{ template "tsmon.message" . }}'
    return {
        "apiVersion": 1,
        "groups": [
            {
                "orgId": 1,
                "name": GROUP,
                "folder": FOLDER,
                "interval": GROUP_INTERVAL,
                "rules": [r.to_json() for r in (rules() if rule_list is None else rule_list)],
            }
        ],
        "contactPoints": [
            {
                "orgId": 1,
                "name": RECEIVER,
                "receivers": [
                    {
                        "uid": "tsmon-webhook",
                        "type": "webhook",
                        "settings": {
                            "url": f"${{{WEBHOOK_URL_ENV}}}",
                            "httpMethod": "POST",
                            "title": title,
                            "message": message,
                        },
                    },
                    {
                        "uid": "tsmon-email",
                        "type": "email",
                        "settings": {
                            "addresses": f"${{{EMAIL_ENV}}}",
                            "singleEmail": True,
                            "subject": title,
                            "message": message,
                        },
                    },
                ],
            },
            {
                "orgId": 1,
                "name": WATCHDOG_RECEIVER,
                "receivers": [
                    {
                        "uid": "tsmon-watchdog-webhook",
                        "type": "webhook",
                        "settings": {"url": f"${{{WATCHDOG_URL_ENV}}}", "httpMethod": "POST"},
                    }
                ],
            },
        ],
        "policies": [
            {
                "orgId": 1,
                "receiver": RECEIVER,
                "group_by": ["alertname", "metric", "host"],
                "group_wait": "30s",
                "group_interval": "5m",
                "repeat_interval": "4h",
                "routes": [
                    {
                        "receiver": WATCHDOG_RECEIVER,
                        "object_matchers": [["alertname", "=", "Watchdog"]],
                        "group_by": ["alertname"],
                        "repeat_interval": "5m",
                        "continue": False,
                    },
                ],
            }
        ],
        "templates": [{"orgId": 1, "name": TEMPLATE, "template": _template()}],
    }
