"""`tsmon eval nab`: a detector over the Numenta Anomaly Benchmark, through the worker's replay."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import yaml

from tsmon.cli import cli
from tsmon.detection import DETECTORS
from tsmon.evaluation.nab_corpus import NabCorpusError, load_corpus
from tsmon.evaluation.nab_run import FileRun, summary, timed_run, write_results
from tsmon.evaluation.nab_scorer import PROFILES
from tsmon.evaluation.replay import DetectorSpec
from tsmon.scoring.configs import DEFAULT_DETECTOR


def parse_detector(value: str) -> DetectorSpec:
    """A registry name, or a YAML/JSON file with ``detector:`` and optional ``params:`` (a config's keys)."""
    if value in DETECTORS:
        return DetectorSpec(value)
    path = Path(value)
    if not path.is_file():
        raise NabCorpusError(f"--detector {value!r}: neither a detector ({', '.join(DETECTORS)}) nor a file")
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise NabCorpusError(f"{path}: not YAML: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("detector") not in DETECTORS:
        raise NabCorpusError(f"{path}: needs 'detector:' naming one of {', '.join(DETECTORS)}")
    params = doc.get("params") or {}
    if not isinstance(params, dict):
        raise NabCorpusError(f"{path}: 'params' must be a mapping")
    return DetectorSpec(str(doc["detector"]), dict(params))


@cli.group("eval")
def evaluate() -> None:
    """Detector quality on public benchmarks."""


@evaluate.command("nab")
@click.option(
    "--data",
    "data",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="NAB checkout (or copy) with data/ and labels/combined_windows.json.",
)
@click.option(
    "--detector",
    default=DEFAULT_DETECTOR,
    show_default=True,
    help="Detector name, or a YAML file with detector: and params: as in a detection config.",
)
@click.option(
    "--profile",
    "profiles",
    multiple=True,
    type=click.Choice([p.name for p in PROFILES]),
    help="Profiles to print (default: all three).",
)
@click.option("--only", multiple=True, help="Only files whose '<family>/<file>' contains this (repeatable).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Write per-row results here.")
@click.option(
    "--workers", type=click.IntRange(min=1), default=None, help="Processes (default: one per core)."
)
@click.option("--json", "as_json", is_flag=True, help="End with the figures as one JSON line.")
def eval_nab(  # noqa: PLR0917 (click passes options positionally)
    data: Path,
    detector: str,
    profiles: tuple[str, ...],
    only: tuple[str, ...],
    out: Path | None,
    workers: int | None,
    as_json: bool,
) -> None:
    """Replay every NAB file through the worker's code path and score it by NAB's rules."""
    spec = parse_detector(detector)
    files = load_corpus(data, only=list(only) or None)
    done = 0

    def progress(run: FileRun) -> None:
        nonlocal done
        done += 1
        if not as_json:
            click.echo(f"[{done}/{len(files)}] {run.key}", err=True)

    runs, seconds = timed_run(files, spec, workers=workers, progress=progress)
    if out is not None:
        write_results(out, files, runs)
    figures = summary(files, [r.surprise for r in runs], seconds=seconds)
    figures["detector"] = {"name": spec.name, "params": spec.params}
    rows = figures["rows"]
    figures["points_per_second"] = round(rows / max(sum(r.score_seconds for r in runs), 1e-9))
    trainings: dict[str, int] = {}
    for run in runs:
        for reason, count in run.trainings.items():
            trainings[reason] = trainings.get(reason, 0) + count
    figures["trainings"] = dict(sorted(trainings.items()))  # model fits by reason: initial, schedule, drift
    _print(figures, profiles or tuple(p.name for p in PROFILES), as_json)


def _print(figures: dict[str, Any], profiles: tuple[str, ...], as_json: bool) -> None:
    fixed = figures["fixed_threshold"]
    click.echo(
        f"NAB v1.1 scores of {figures['detector']['name']} ({figures['files']} files, {figures['rows']} rows)"
    )
    for profile in profiles:
        click.echo(
            f"  {profile:<20} {figures[profile]:6.2f} (oracle threshold: surprise "
            f"{figures['thresholds'][profile]})   fixed in advance: {fixed[profile]:6.2f}"
        )
    click.echo(f"  VUS-PR {figures['vus_pr']:.4f}   AUC-PR {figures['auc_pr']:.4f}")
    click.echo(f"  {figures['seconds']} s; scoring {figures['points_per_second']} points per second per core")
    click.echo("  trainings: " + ", ".join(f"{n} {reason}" for reason, n in figures["trainings"].items()))
    if as_json:
        click.echo(json.dumps(figures, sort_keys=True))
