"""Drift between a model's training data and recent data: two-sample KS and the population stability index."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

QUANTILES = np.linspace(0.0, 1.0, 101)
# Retrain when both agree: the distribution moved (KS) and by a practically large amount (PSI).
KS_P_VALUE = 0.001
PSI_LIMIT = 0.25
MIN_RECENT_POINTS = 60


@dataclass(frozen=True)
class Drift:
    ks_statistic: float
    ks_p_value: float
    psi: float

    @property
    def drifted(self) -> bool:
        return self.ks_p_value < KS_P_VALUE and self.psi > PSI_LIMIT


def summarize(values: np.ndarray) -> dict[str, object]:
    """What a model keeps of its training data to test drift later: 101 quantiles and the count."""
    return {"quantiles": np.quantile(values, QUANTILES).tolist(), "n": int(values.size)}


def measure(summary: Mapping[str, Any], recent: np.ndarray) -> Drift | None:
    """KS statistic against the training distribution (from its quantiles) and PSI over its deciles."""
    quantiles = np.asarray(summary.get("quantiles", []), dtype=np.float64)
    n_train = int(summary.get("n", 0))
    if quantiles.size != QUANTILES.size or recent.size < MIN_RECENT_POINTS or n_train < 2:
        return None
    recent = np.sort(recent)
    # Training CDF at each recent point, interpolated through its quantiles (ties: mid-rank).
    lo = np.searchsorted(quantiles, recent, side="left")
    hi = np.searchsorted(quantiles, recent, side="right")
    train_cdf = np.clip((lo + hi) / 2 - 0.5, 0, QUANTILES.size - 1) / (QUANTILES.size - 1)
    recent_cdf_hi = np.arange(1, recent.size + 1) / recent.size
    recent_cdf_lo = np.arange(0, recent.size) / recent.size
    d = float(max(np.max(np.abs(recent_cdf_hi - train_cdf)), np.max(np.abs(train_cdf - recent_cdf_lo))))
    n_eff = n_train * recent.size / (n_train + recent.size)
    p = float(stats.kstwobign.sf(d * np.sqrt(n_eff)))
    deciles = quantiles[10:100:10]
    observed = np.bincount(np.searchsorted(deciles, recent, side="right"), minlength=10) / recent.size
    observed = np.clip(observed, 1e-4, None)
    psi = float(np.sum((observed - 0.1) * np.log(observed / 0.1)))
    return Drift(d, p, psi)
