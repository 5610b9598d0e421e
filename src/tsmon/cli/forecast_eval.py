"""`tsmon eval forecast`: rolling-origin forecast accuracy of a model over a NAB-layout corpus."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from tsmon.cli.evaluate import evaluate
from tsmon.evaluation.forecast_run import BASELINE, EvalSpec, SeriesResult, run_corpus, summary
from tsmon.evaluation.nab_corpus import NabCorpusError
from tsmon.evaluation.series_corpus import load_series
from tsmon.forecast import DEFAULT_MODEL, MODELS


@evaluate.command("forecast")
@click.option(
    "--data",
    "data",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder with data/<family>/<file>.csv files of timestamp,value rows (NAB's layout).",
)
@click.option(
    "--model", type=click.Choice(list(MODELS)), default=DEFAULT_MODEL, show_default=True, help="Forecaster."
)
@click.option(
    "--horizon", type=click.IntRange(min=1), default=12, show_default=True, help="Steps forecast per origin."
)
@click.option(
    "--origins", type=click.IntRange(min=1), default=20, show_default=True, help="Origins per series."
)
@click.option(
    "--refit-every",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    help="Origins between refits (0: fit once); in between the model only takes the new data.",
)
@click.option("--only", multiple=True, help="Only files whose '<family>/<file>' contains this (repeatable).")
@click.option(
    "--workers", type=click.IntRange(min=1), default=None, help="Processes (default: one per core)."
)
@click.option("--json", "as_json", is_flag=True, help="End with the figures as one JSON line.")
def eval_forecast(  # noqa: PLR0917 (click passes options positionally)
    data: Path,
    model: str,
    horizon: int,
    origins: int,
    refit_every: int,
    only: tuple[str, ...],
    workers: int | None,
    as_json: bool,
) -> None:
    """Forecast each series' next HORIZON steps from evenly spaced origins over its second half.

    Each series is resampled to its median spacing; from each origin the model sees only the
    rows before it.  MASE is scaled by the in-sample seasonal naive error at each origin.
    """
    started = time.monotonic()
    series = load_series(data, only=list(only) or None)
    spec = EvalSpec(model=model, horizon=horizon, origins=origins, refit_every=refit_every)
    count = 0

    def progress(result: SeriesResult) -> None:
        nonlocal count
        count += 1
        if not as_json:
            figures = ", ".join(f"{m} {f['mase']:.3f}" for m, f in result.figures.items())
            click.echo(f"[{count}/{len(series)}] {result.key}: MASE {figures}", err=True)

    results = run_corpus(series, spec, workers=workers, progress=progress)
    figures = summary(results, spec)
    if not figures["series"]:
        reasons = "; ".join(f"{key}: {why}" for key, why in figures["skipped"].items())
        raise NabCorpusError(f"--data {data}: no series long enough to evaluate ({reasons})")
    figures["seconds"] = round(time.monotonic() - started, 1)
    _print(figures)
    if as_json:
        click.echo(json.dumps(figures, sort_keys=True))


def _print(figures: dict[str, Any]) -> None:
    click.echo(
        f"Forecasts of {figures['series']} series, {figures['horizon']} steps ahead from "
        f"{figures['origins_per_series']} origins each (steps: {figures['steps_s']} s)"
    )
    for name, f in figures["models"].items():
        click.echo(
            f"  {name:<16} MASE {f['mase']:.3f}  sMAPE {f['smape']:6.2f}%  "
            f"coverage 80% {f['coverage_80']:.3f}  95% {f['coverage_95']:.3f}"
        )
    if figures["model"] != BASELINE:
        click.echo(f"  MASE ratio to seasonal naive: {figures['mase_ratio']:.3f}")
    if figures["chosen"]:
        click.echo("  chosen by CV: " + ", ".join(f"{n} {m}" for m, n in figures["chosen"].items()))
    for key, reason in figures["skipped"].items():
        click.echo(f"  skipped {key}: {reason}")
    click.echo(f"  {figures['seconds']} s")
