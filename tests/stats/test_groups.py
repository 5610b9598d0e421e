"""ANOVA and Tukey's HSD from per-window sums equal f_oneway and tukey_hsd on the raw samples."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from tsmon.stats import moments
from tsmon.stats.groups import anova, tukey_hsd


def group_moments(groups: list[np.ndarray], window: int) -> moments.Moments:
    ns, sums, sqs, labels = [], [], [], []
    for g, x in enumerate(groups):
        cuts = np.arange(0, x.size, window)
        ns.append(np.diff(np.append(cuts, x.size)))
        sums.append(np.add.reduceat(x, cuts))
        sqs.append(np.add.reduceat(x * x, cuts))
        labels.append(np.full(cuts.size, g))
    parts = moments.from_sums(np.concatenate(ns), np.concatenate(sums), np.concatenate(sqs))
    return moments.merge(parts, np.concatenate(labels), len(groups))


@pytest.mark.parametrize("seed", range(4))
def test_anova_and_tukey_equal_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    groups = [rng.normal(100 + 0.3 * g * seed, 1 + g, rng.integers(20, 400)) for g in range(4)]
    m = group_moments(groups, 60)
    got, want = anova(m), sps.f_oneway(*groups)
    assert got.statistic == pytest.approx(want.statistic, rel=1e-9)
    assert got.pvalue == pytest.approx(want.pvalue, rel=1e-9, abs=1e-300)
    assert (got.df_between, got.df_within) == (3, sum(g.size for g in groups) - 4)
    tk, ref = tukey_hsd(m), sps.tukey_hsd(*groups)
    for i, j, diff, p in zip(tk.i, tk.j, tk.diff, tk.pvalue, strict=True):
        assert diff == pytest.approx(ref.statistic[i, j], rel=1e-9)
        assert p == pytest.approx(ref.pvalue[i, j], rel=1e-6, abs=1e-9)


def test_one_group_is_not_a_test() -> None:
    m = moments.from_samples([1.0, 2.0, 3.0])
    assert np.isnan(anova(m).pvalue)
    assert tukey_hsd(m).i == []
