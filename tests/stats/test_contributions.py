"""Contributions of parts sum to the change of the aggregate; the part that moved carries it."""

from __future__ import annotations

import numpy as np
import pytest

from tsmon.stats.contributions import contributions


def test_mean_contributions_sum_to_the_delta_and_name_the_mover() -> None:
    rng = np.random.default_rng(10)
    na, nb = rng.integers(50, 100, 6).astype(float), rng.integers(50, 100, 6).astype(float)
    ma = rng.normal(10, 1, 6)
    mb = ma.copy()
    mb[3] += 20  # one host got slower
    res = contributions(na, na * ma, nb, nb * mb)
    assert res.delta == pytest.approx((nb * mb).sum() / nb.sum() - (na * ma).sum() / na.sum())
    assert res.contribution.sum() == pytest.approx(res.delta)
    assert int(np.argmax(res.contribution)) == 3
    assert res.share.sum() == pytest.approx(1.0)
    assert (res.rate + res.mix) == pytest.approx(res.contribution)


def test_a_new_part_is_all_mix_and_sums_are_plain_deltas() -> None:
    res = contributions([10, 0], [100, 0], [10, 10], [100, 300])
    assert res.contribution.sum() == pytest.approx(res.delta) == pytest.approx(20 - 10)
    assert res.rate[1] == 0
    s = contributions([1, 1], [5, 7], [1, 1], [5, 10], aggregate="sum")
    assert list(s.contribution) == [0, 3] and s.delta == 3
    with pytest.raises(ValueError, match="aggregate"):
        contributions([1], [1], [1], [1], aggregate="median")
