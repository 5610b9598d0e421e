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
    params: dict[str, object] = {"from": options.pop("start"), "to": options.pop("stop"), **options}

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
