"""Rolling-origin forecast evaluation of a corpus: from each origin, forecast the next steps from the past."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import clone
from threadpoolctl import threadpool_limits

from tsmon.evaluation._pool import map_corpus
from tsmon.evaluation.series_corpus import RegularSeries
from tsmon.forecast import MODELS, BaseForecaster, SeasonalNaive
from tsmon.forecast.metrics import coverage, mase, mase_scale, smape

BASELINE = "seasonal_naive"


@dataclass(frozen=True)
class EvalSpec:
    """What to evaluate: a model name of ``MODELS``, the horizon in steps, the origins, the refit cadence."""

    model: str = "auto"
    horizon: int = 12
    origins: int = 20  # per series, evenly spaced over its second half
    refit_every: int = 10  # origins between refits; in between the fitted model only takes new data


@dataclass
class SeriesResult:
    key: str
    step: float
    chosen: str | None  # the CV's choice when the model is "auto"
    skipped: str | None = None  # why the series has no figures (too short for the model)
    figures: dict[str, dict[str, float]] = field(default_factory=dict)  # model -> mase, smape, coverage


def _errors(
    series: RegularSeries, model: BaseForecaster, origins: Sequence[int], spec: EvalSpec, season: int
) -> dict[str, float]:
    y, t, h = series.values, series.times, spec.horizon
    mases, smapes, inside80, inside95 = [], [], [], []
    fitted_at = origins[0]
    for i, o in enumerate(origins):
        if i == 0 or (spec.refit_every and i % spec.refit_every == 0):
            model.fit(y[:o], timestamps=t[:o])  # only the past: rows before the origin
            fitted_at = o
        else:
            model.update(y[fitted_at:o], timestamps=t[fitted_at:o])
            fitted_at = o
        f80, f95 = model.predict(h, level=0.8), model.predict(h, level=0.95)
        actual = y[o : o + h]
        mases.append(mase(actual, f80.yhat, mase_scale(y[:o], season)))
        smapes.append(smape(actual, f80.yhat))
        inside80.append(coverage(actual, f80.lower, f80.upper))
        inside95.append(coverage(actual, f95.lower, f95.upper))
    return {
        "mase": float(np.mean(mases)),
        "smape": float(np.mean(smapes)),
        "coverage_80": float(np.mean(inside80)),
        "coverage_95": float(np.mean(inside95)),
    }


def origins_of(n: int, spec: EvalSpec) -> list[int]:
    """Evenly spaced origins over the second half of ``n`` steps (deterministic subsample)."""
    first, last = n // 2, n - spec.horizon
    if last <= first:
        return []
    return sorted({int(o) for o in np.linspace(first, last, spec.origins).round()})


def evaluate_series(job: tuple[RegularSeries, EvalSpec]) -> SeriesResult:
    """The model and the seasonal naive baseline at the same origins of one series."""
    series, spec = job
    with threadpool_limits(limits=1):  # one core per series; processes give the parallelism
        origins = origins_of(series.values.size, spec)
        result = SeriesResult(series.key, series.step, None)
        if not origins:
            result.skipped = f"{series.values.size} steps: too short for a horizon of {spec.horizon}"
            return result
        history = series.values[: origins[0]]
        baseline = SeasonalNaive().fit(history, timestamps=series.times[: origins[0]])
        season = baseline.period_  # found before the first origin, kept for every origin
        model = clone(MODELS[spec.model](spec.horizon))
        if "period" in model.get_params():
            model.set_params(period=season)
        result.figures[BASELINE] = _errors(series, SeasonalNaive(period=season), origins, spec, season)
        if spec.model != BASELINE:
            try:
                result.figures[spec.model] = _errors(series, model, origins, spec, season)
            except ValueError as exc:  # the model cannot fit this short a history: say so, score none
                result.figures.clear()
                result.skipped = f"{spec.model}: {exc}"
                return result
            result.chosen = getattr(model, "best_name_", None)
    return result


def run_corpus(
    series: Sequence[RegularSeries],
    spec: EvalSpec,
    *,
    workers: int | None = None,
    progress: Callable[[SeriesResult], None] | None = None,
) -> list[SeriesResult]:
    """Every series (longest first, ``workers`` processes, default one per core), in ``series`` order."""
    jobs = [(s, spec) for s in series]
    return map_corpus(
        evaluate_series, jobs, size=lambda j: j[0].values.size, workers=workers, progress=progress
    )


def summary(results: Sequence[SeriesResult], spec: EvalSpec) -> dict[str, Any]:
    """Mean over series of each model's figures; the headline keys are the evaluated model's."""
    scored = [r for r in results if r.figures]
    models: dict[str, dict[str, float]] = {}
    for name in dict.fromkeys(name for r in scored for name in r.figures):
        rows = [r.figures[name] for r in scored if name in r.figures]
        models[name] = {k: round(float(np.mean([row[k] for row in rows])), 4) for k in rows[0]}
    main = models.get(spec.model, models.get(BASELINE, {}))
    base = models.get(BASELINE, {})
    chosen: dict[str, int] = {}
    for r in scored:
        if r.chosen:
            chosen[r.chosen] = chosen.get(r.chosen, 0) + 1
    ratio = main.get("mase", float("nan")) / base["mase"] if base.get("mase") else float("nan")
    return {
        "model": spec.model,
        "horizon": spec.horizon,
        "origins_per_series": spec.origins,
        "refit_every": spec.refit_every,
        "series": len(scored),
        "steps_s": sorted({r.step for r in scored}),
        **main,
        "mase_seasonal_naive": base.get("mase"),
        "seasonal_naive_mase": base.get("mase"),
        "mase_ratio": round(ratio, 4),
        "models": models,
        "chosen": dict(sorted(chosen.items())),
        "skipped": {r.key: r.skipped for r in results if r.skipped},
    }
