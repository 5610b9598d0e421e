"""`tsmon analyze changes`: what changed in a window (or with an anomaly event) against the baseline."""

from __future__ import annotations

from datetime import UTC, datetime

import click
import orjson

from tsmon.analysis.changes import METHODS, ChangesInputError, ChangesRequest, run_changes
from tsmon.cli.analyze import analyze
from tsmon.db.connect import connect
from tsmon.settings import Settings
from tsmon.stats.changes import ALTERNATIVES


def _time(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time", ctx, param) from exc
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t


def _labels(ctx: click.Context, param: click.Parameter, value: str | None) -> dict[str, str] | None:
    if value is None:
        return None
    try:
        labels = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", ctx, param) from exc
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise click.BadParameter('a JSON object of strings, like {"host": "web1"}', ctx, param)
    return labels


@analyze.command("changes")
@click.option("--from", "start", callback=_time, help="Window start (ISO 8601; UTC unless it says).")
@click.option("--to", "end", callback=_time, help="Window end (ISO 8601).")
@click.option("--metric", help="Only series of this metric.")
@click.option("--labels", callback=_labels, help='Only series with these labels, e.g. {"host": "web1"}.')
@click.option("--event", "event_id", type=int, help="An anomaly event: its window, and the run linked to it.")
@click.option("--method", type=click.Choice(METHODS), default="volume", show_default=True)
@click.option("--alternative", type=click.Choice(ALTERNATIVES), default="two-sided", show_default=True)
@click.option("--limit", type=int, default=10, show_default=True, help="How many series to keep.")
@click.option("--json", "as_json", is_flag=True, help="Print the run as one JSON object.")
@click.pass_obj
def changes(  # noqa: PLR0917 (click passes options positionally)
    settings: Settings,
    start: datetime | None,
    end: datetime | None,
    metric: str | None,
    labels: dict[str, str] | None,
    event_id: int | None,
    method: str,
    alternative: str,
    limit: int,
    as_json: bool,
) -> None:
    """Rank series by how much they changed in the window against the 4x longer baseline before it
    (volume score, or KS2), co-anomalies first; store the run (tsmon.analysis_changes)."""
    request = ChangesRequest(start, end, metric, labels, event_id, method, limit, alternative)
    try:
        with connect(settings, autocommit=True) as conn:
            run = run_changes(conn, request, datetime.now(UTC), settings.retention_1m_days)
    except ChangesInputError as exc:
        raise click.BadParameter(exc.reason, param_hint=f"'--{exc.argument}'") from exc
    if as_json:
        click.echo(orjson.dumps(run.to_json()).decode())
        return
    click.echo(
        f"run {run.run_id}: window {run.window_start:%Y-%m-%d %H:%M}..{run.window_end:%H:%M}, baseline from "
        f"{run.baseline_start:%Y-%m-%d %H:%M}; {run.ranked} series ranked, {run.skipped_constant} constant "
        f"and {run.skipped_sparse} sparse skipped"
    )
    for r in run.results:
        cause = " candidate cause" if r.co_anomaly_order == 1 else " co-anomaly" if r.co_anomaly_order else ""
        labels_text = orjson.dumps(r.labels).decode()
        click.echo(
            f"{r.rank:>3} {r.score:>10.3g} {r.method:<6} {r.kind:<7} {r.metric}{labels_text} "
            f"{r.baseline_mean:.4g} -> {r.window_mean:.4g}{cause}"
        )
