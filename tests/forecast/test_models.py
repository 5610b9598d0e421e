"""The forecasters: estimator contract, seasonal forecasts, bands that cover about what they claim."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from tsmon.forecast import ExponentialSmoothing, GradientBoosting, SeasonalNaive
from tsmon.forecast.base import BaseForecaster
from tsmon.forecast.metrics import coverage, mase, mase_scale, smape

STEP = 300.0
DAY = 288  # 5-minute steps


def daily(n: int, *, noise: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    t = 1_700_000_000.0 + STEP * np.arange(n)
    rng = np.random.default_rng(seed)
    return t, 10 + 3 * np.sin(2 * np.pi * t / 86400) + rng.normal(0, noise, n)


MODELS: list[BaseForecaster] = [
    SeasonalNaive(),
    ExponentialSmoothing(),
    ExponentialSmoothing(trend="add"),
    GradientBoosting(horizon=12),
]


@pytest.mark.parametrize("model", MODELS, ids=repr)
def test_fit_sets_attributes_returns_self_and_keeps_params(model: BaseForecaster) -> None:
    t, y = daily(6 * DAY)
    params = model.get_params()
    fitted = model.fit(y, timestamps=t)
    assert fitted is model and model.get_params() == params  # __init__ params untouched by fit
    assert model.period_ == DAY and model.n_train_ == y.size and model.last_time_ == t[-1]
    f = model.predict(12)
    assert f.yhat.shape == f.lower.shape == f.upper.shape == (12,)
    assert np.all(f.lower <= f.yhat) and np.all(f.yhat <= f.upper)
    np.testing.assert_allclose(f.times, t[-1] + STEP * np.arange(1, 13))
    wide = model.predict(12, level=0.95)
    assert np.all(wide.upper - wide.lower >= f.upper - f.lower - 1e-9)
    assert clone(model).get_params() == params


@pytest.mark.parametrize("model", MODELS, ids=repr)
def test_forecasts_follow_the_season_and_bands_cover(model: BaseForecaster) -> None:
    t, y = daily(8 * DAY + 40 * 12)
    n0 = 8 * DAY
    model.fit(y[:n0], timestamps=t[:n0])
    errors, inside = [], []
    truth = 10 + 3 * np.sin(2 * np.pi * t / 86400)
    for k in range(40):  # forty origins, the model updated with each hour's data
        o = n0 + 12 * k
        if k:
            model.update(y[o - 12 : o], timestamps=t[o - 12 : o])
        f = model.predict(12)
        errors.append(np.abs(f.yhat - truth[o : o + 12]).mean())
        inside.append(coverage(y[o : o + 12], f.lower, f.upper))
    assert np.mean(errors) < 0.35  # the noise is 0.2; the daily swing is 6
    assert 0.65 <= np.mean(inside) <= 0.95, np.mean(inside)


def test_seasonal_naive_repeats_the_season_and_plain_naive_the_last_value() -> None:
    y = np.tile([1.0, 5.0, 3.0], 10)
    np.testing.assert_array_equal(SeasonalNaive(period=3).fit(y).predict(5).yhat, [1, 5, 3, 1, 5])
    np.testing.assert_array_equal(SeasonalNaive(period=0).fit(y).predict(2).yhat, [3, 3])


def test_ets_beats_seasonal_naive_on_a_noisy_season() -> None:
    t, y = daily(10 * DAY, noise=1.0)
    train, test = y[: 9 * DAY], y[9 * DAY : 9 * DAY + 24]
    scale = mase_scale(train, DAY)
    ets = mase(test, ExponentialSmoothing().fit(train, timestamps=t[: 9 * DAY]).predict(24).yhat, scale)
    naive = mase(test, SeasonalNaive().fit(train, timestamps=t[: 9 * DAY]).predict(24).yhat, scale)
    assert ets < 0.85 * naive


def test_bad_input_is_refused_with_the_argument_named() -> None:
    t, y = daily(100)
    with pytest.raises(ValueError, match="finite"):
        SeasonalNaive().fit(np.r_[y[:-1], np.nan])
    with pytest.raises(ValueError, match="timestamps"):
        SeasonalNaive().fit(y, timestamps=t[::-1])
    model = SeasonalNaive().fit(y, timestamps=t)
    with pytest.raises(ValueError, match="horizon"):
        model.predict(0)
    with pytest.raises(ValueError, match="level"):
        model.predict(3, level=1.5)
    with pytest.raises(ValueError, match="after the last"):
        model.update(y[:3], timestamps=t[:3])
    t4, y4 = daily(400)
    gbm = GradientBoosting(horizon=4, levels=(0.8,)).fit(y4, timestamps=t4)
    with pytest.raises(ValueError, match=r"0\.95 band"):
        gbm.predict(4, level=0.95)
    with pytest.raises(ValueError, match="horizon of 4"):
        gbm.predict(5)


def test_metrics() -> None:
    assert mase_scale([1.0, 2.0, 4.0, 7.0], 1) == pytest.approx(2.0)
    assert mase([1.0, 2.0], [2.0, 4.0], 1.5) == pytest.approx(1.0)
    assert smape([1.0, 0.0], [3.0, 0.0]) == pytest.approx(50.0)
    assert coverage([1.0, 2.0, 3.0, 4.0], [0, 0, 0, 0], [2, 2, 2, 2]) == 0.5
