"""`tsmon analyze compare|describe|groups|correlate|explain`: options in, a table or one JSON line out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
import orjson

from tsmon.cli.analyze import analyze
from tsmon.db.connect import connect
from tsmon.settings import Settings

F = Callable[..., Any]
_COMMON = (
    click.option("--metric", required=True, help="Metric name."),
    click.option("--labels", default=None, help='Label equality matchers as JSON: \'{"host": "web1"}\'.'),
    click.option(
        "--json", "as_json", is_flag=True, help="Print one JSON object (the last line) instead of a table."
    ),
)


def common(f: F) -> F:
    for option in reversed(_COMMON):
        f = option(f)
    return f


def run_and_print(
    settings: Settings,
    name: str,
    params: dict[str, object],
    as_json: bool,
    table: Callable[[dict[str, Any]], None],
) -> None:
    from tsmon.analysis.runner import run
    from tsmon.windows.retention import RetentionSettings

    given = {k: v for k, v in params.items() if v is not None}
    with connect(settings, autocommit=True) as conn:
        out = run(conn, name, given, RetentionSettings.from_settings(settings))
    if as_json:
        click.echo(orjson.dumps(out).decode())
    else:
        table(out)


def _n(v: object) -> str:
    return _fmt(v).strip()


def _fmt(v: object, width: int = 10) -> str:
    if v is None:
        return "-".rjust(width)
    if isinstance(v, float):
        return f"{v:{width}.4g}"
    return str(v).rjust(width)


@analyze.command("compare")
@common
@click.option(
    "--from", "start", required=True, help="Start of the range of interest (ISO 8601, now, now-1h)."
)
@click.option("--to", "stop", default="now", show_default=True, help="End of the range of interest.")
@click.option("--baseline-from", default=None, help="Start of the baseline (default: the range, shifted).")
@click.option("--baseline-to", default=None, help="End of the baseline.")
@click.option(
    "--shift", default=None, help="Baseline = the range this much earlier (7d); default its length."
)
@click.option("--alpha", type=float, default=None, help="False discovery rate for flagging (0.05).")
@click.option("--alternative", type=click.Choice(["two-sided", "less", "greater"]), default=None)
@click.option("--resolution", type=click.Choice(["1m", "1h", "1d"]), default=None, help="Windows to read.")
@click.option("--limit", type=int, default=20, show_default=True, help="Rows of the table.")
@click.pass_obj
def compare_command(settings: Settings, /, as_json: bool, limit: int, **options: Any) -> None:
    """Each series: the range against a baseline (exact Welch t, effective-n p, MWU, KS, Cohen's d, BH)."""
    params = _params(options)

    def table(out: dict[str, Any]) -> None:
        click.echo(
            f"{out['metric']}: {out['range']['from']} .. {out['range']['to']} against "
            f"{out['baseline']['from']} .. {out['baseline']['to']} ({out['resolution']} windows); "
            f"{out['flagged']} of {out['series']} series flagged (BH q <= {out['alpha']})"
        )
        click.echo("  mean_a     mean_b      delta   delta_%    welch_t    p_naive      p_eff  flag  labels")
        for r in out["results"][:limit]:
            click.echo(
                " ".join(
                    _fmt(r[k])
                    for k in ("mean_a", "mean_b", "delta", "delta_pct", "welch_t", "p_naive", "p_effective")
                )
                + f"  {'*' if r['flagged'] else ' '}     {orjson.dumps(r['labels']).decode()}"
            )

    run_and_print(settings, "compare", params, as_json, table)


def _range_options(f: F) -> F:
    f = click.option("--to", "stop", default="now", show_default=True, help="End of the range.")(f)
    return click.option("--from", "start", required=True, help="Start of the range (ISO 8601, now-1h).")(f)


def _params(options: dict[str, Any]) -> dict[str, object]:
    return {"from": options.pop("start"), "to": options.pop("stop"), **options}


def _pairs(rows: list[dict[str, Any]], keys: tuple[str, ...], label: str) -> None:
    widths = [max(10, len(k)) for k in keys]
    click.echo("".join(k.rjust(w + 1) for k, w in zip(keys, widths, strict=True)) + f"  {label}")
    for r in rows:
        cells = "".join(" " + _fmt(r[k], w) for k, w in zip(keys, widths, strict=True))
        click.echo(cells + f"  {orjson.dumps(r[label]).decode()}")


@analyze.command("describe")
@common
@_range_options
@click.option(
    "--source", type=click.Choice(["auto", "raw", "1m"]), default=None, help="Raw samples or 1m windows."
)
@click.pass_obj
def describe_command(settings: Settings, /, as_json: bool, **options: Any) -> None:
    """Each series: count, mean, stddev, min, max, p50/p90/p99 (exact from raw samples while kept)."""

    def table(out: dict[str, Any]) -> None:
        click.echo(
            f"{out['metric']}: {out['series']} series from {out['source']} ({out['percentiles']} percentiles)"
        )
        _pairs(out["results"], ("count", "mean", "stddev", "min", "max", "p50", "p90", "p99"), "labels")

    run_and_print(settings, "describe", _params(options), as_json, table)


@analyze.command("groups")
@common
@_range_options
@click.option("--by", required=True, help="Label whose values form the groups (host).")
@click.option("--alpha", type=float, default=None, help="Tukey HSD: pairs with p <= alpha differ (0.05).")
@click.option("--resolution", type=click.Choice(["1m", "1h", "1d"]), default=None, help="Windows to read.")
@click.pass_obj
def groups_command(settings: Settings, /, as_json: bool, **options: Any) -> None:
    """One-way ANOVA and Kruskal-Wallis across a label's values, Tukey HSD naming which groups differ."""

    def table(out: dict[str, Any]) -> None:
        a, k = out["anova"], out["kruskal"]
        click.echo(
            f"{out['metric']} by {out['by']}: ANOVA F={_n(a['statistic'])} p={_n(a['pvalue'])} "
            f"eta^2={_n(a['eta_squared'])}; Kruskal-Wallis H={_n(k['statistic'])} "
            f"p={_n(k['pvalue'])}"
        )
        _pairs(out["groups"], ("series", "n", "mean", "stddev"), "value")
        for t in out["tukey"]:
            if t["differ"]:
                click.echo(f"  {t['a']} vs {t['b']}: diff {_n(t['diff'])}, Tukey p {_n(t['pvalue'])}")

    run_and_print(settings, "groups", _params(options), as_json, table)


@analyze.command("correlate")
@common
@_range_options
@click.option("--metric-y", default=None, help="The second series' metric (default: --metric).")
@click.option("--labels-y", default=None, help="The second series' label matchers (JSON).")
@click.option("--max-lag", type=int, default=None, help="Cross-correlation lags tried, in windows (10).")
@click.option("--resolution", type=click.Choice(["1m", "1h", "1d"]), default=None, help="Windows to align.")
@click.option("--alternative", type=click.Choice(["two-sided", "less", "greater"]), default=None)
@click.pass_obj
def correlate_command(settings: Settings, /, as_json: bool, **options: Any) -> None:
    """Two series on aligned windows: Pearson, Spearman, the best lag, linear regression."""

    def table(out: dict[str, Any]) -> None:
        p, s, x, g = out["pearson"], out["spearman"], out["cross_correlation"], out["regression"]
        click.echo(f"{out['n']} aligned {out['resolution']} windows")
        click.echo(
            f"  pearson r {_n(p['statistic'])} (p {_n(p['pvalue'])}), "
            f"spearman rho {_n(s['statistic'])} (p {_n(s['pvalue'])})"
        )
        click.echo(
            f"  best lag {x['best_lag']} windows (r {_n(x['best_r'])}); "
            f"y = {_n(g['intercept'])} + {_n(g['slope'])} x, r^2 {_n(g['r_squared'])}"
        )

    run_and_print(settings, "correlate", _params(options), as_json, table)


@analyze.command("explain")
@common
@_range_options
@click.option("--by", required=True, help="Label(s) whose values get the contributions: host or host,region.")
@click.option("--baseline-from", default=None, help="Start of the baseline (default: the range, shifted).")
@click.option("--baseline-to", default=None, help="End of the baseline.")
@click.option(
    "--shift", default=None, help="Baseline = the range this much earlier (7d); default its length."
)
@click.option("--aggregate", type=click.Choice(["mean", "sum"]), default=None, help="What changed (mean).")
@click.option("--resolution", type=click.Choice(["1m", "1h", "1d"]), default=None, help="Windows to read.")
@click.pass_obj
def explain_command(settings: Settings, /, as_json: bool, **options: Any) -> None:
    """Which label values carry the change of the metric's mean (or sum) against a baseline."""

    def table(out: dict[str, Any]) -> None:
        click.echo(
            f"{out['metric']} {out['aggregate']}: {_n(out['total_a'])} -> "
            f"{_n(out['total_b'])} (delta {_n(out['delta'])})"
        )
        _pairs(out["results"], ("value_a", "value_b", "contribution", "share", "rate", "mix"), "group")

    run_and_print(settings, "explain", _params(options), as_json, table)
