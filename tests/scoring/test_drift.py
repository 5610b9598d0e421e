"""Drift measures: no drift on the same distribution, drift on a shift, nothing on too little data."""

from __future__ import annotations

import numpy as np

from tsmon.scoring.drift import measure, summarize


def test_same_distribution_is_not_drift() -> None:
    rng = np.random.default_rng(1)
    summary = summarize(rng.normal(50, 5, 1440))
    for seed in range(5):
        d = measure(summary, np.random.default_rng(seed + 10).normal(50, 5, 360))
        assert d is not None and not d.drifted and d.psi < 0.1


def test_shift_and_spread_are_drift() -> None:
    rng = np.random.default_rng(2)
    summary = summarize(rng.normal(50, 5, 1440))
    shifted = measure(summary, rng.normal(65, 5, 360))
    wider = measure(summary, rng.normal(50, 20, 360))
    assert shifted is not None and shifted.drifted and shifted.ks_statistic > 0.5
    assert wider is not None and wider.drifted


def test_too_little_data_says_nothing() -> None:
    assert measure(summarize(np.arange(100.0)), np.arange(10.0)) is None
    assert measure({}, np.arange(100.0)) is None
