"""JSON state round trips: a reloaded detector scores exactly like the one that was stored."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.detection.synthetic import TRAIN, detector, inject, series
from tsmon.detection import (
    DETECTORS,
    EnsembleDetector,
    LevelShiftDetector,
    MADDetector,
    from_state,
    make_detector,
    to_state,
)


def _through_json(state: dict[str, object]) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(json.dumps(state, allow_nan=False))
    return loaded


@pytest.mark.parametrize("name", sorted(DETECTORS))
@pytest.mark.parametrize("timestamps", [True, False])
def test_fitted_round_trip_scores_identically(name: str, timestamps: bool) -> None:
    t, x, signal = series()
    y = inject("spike", x, signal)[TRAIN:]
    ts_train, ts_test = (t[:TRAIN], t[TRAIN:]) if timestamps else (None, None)
    original = detector(name).fit(x[:TRAIN], timestamps=ts_train)
    reloaded = from_state(_through_json(to_state(original)))
    assert type(reloaded) is type(original)
    assert reloaded.get_params(deep=False).keys() == original.get_params(deep=False).keys()
    np.testing.assert_array_equal(
        reloaded.score_samples(y, timestamps=ts_test), original.score_samples(y, timestamps=ts_test)
    )
    for got, want in zip(
        reloaded.predict_bands(y[:200], timestamps=None if ts_test is None else ts_test[:200]),
        original.predict_bands(y[:200], timestamps=None if ts_test is None else ts_test[:200]),
        strict=True,
    ):
        np.testing.assert_array_equal(got, want)
    assert to_state(reloaded) == to_state(original)


def test_unfitted_round_trip_and_nested_params() -> None:
    ens = EnsembleDetector(detectors=[("mad", MADDetector()), ("ls", LevelShiftDetector(window=12))])
    state = _through_json(to_state(ens))
    assert state["fitted"] is None
    back = from_state(state)
    assert isinstance(back, EnsembleDetector)
    assert back.detectors is not None
    assert [name for name, _ in back.detectors] == ["mad", "ls"]
    assert back.detectors[1][1].get_params()["window"] == 12


def test_seedless_forest_keeps_its_drawn_seed() -> None:
    x = np.random.default_rng(0).standard_normal(600)
    det = make_detector("iforest").fit(x[:400])
    back = from_state(_through_json(to_state(det)))
    np.testing.assert_array_equal(back.score_samples(x[400:]), det.score_samples(x[400:]))


def test_bad_states_are_refused() -> None:
    state = to_state(make_detector("mad").fit(np.arange(50.0)))
    with pytest.raises(ValueError, match="version"):
        from_state({**state, "version": 99})
    with pytest.raises(ValueError, match="unknown detector"):
        from_state({**state, "detector": "nope"})
    with pytest.raises(ValueError, match="fitted attribute"):
        from_state({**state, "fitted": {"__class__": 1}})
    with pytest.raises(ValueError, match="unknown detector"):
        make_detector("pickle")
