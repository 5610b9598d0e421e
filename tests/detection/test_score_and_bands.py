"""score_and_bands (the scoring job's one-pass call) equals score_samples plus predict_bands."""

from __future__ import annotations

import numpy as np
import pytest

from tests.detection.synthetic import TRAIN, inject, series
from tsmon.detection import DETECTORS, make_detector
from tsmon.scoring.scores import CONTEXT_POINTS


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_one_pass_equals_the_two_calls(name: str) -> None:
    t, values, signal = series(seed=4)
    values = inject("spike", values, signal)
    detector = make_detector(name).fit(values[:TRAIN], timestamps=t[:TRAIN])
    rest, times = values[TRAIN:], t[TRAIN:]
    scores, expected, lower, upper = detector.score_and_bands(rest, timestamps=times)
    np.testing.assert_array_equal(scores, detector.score_samples(rest, timestamps=times))
    for got, want in zip(
        (expected, lower, upper), detector.predict_bands(rest, timestamps=times), strict=True
    ):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_declared_context_is_enough(name: str) -> None:
    """A detector's score of the newest point, given only its declared context, is the score it
    gets with the whole history before it: the worker may read no more than that."""
    t, values, signal = series(seed=5)
    values = inject("level_shift", values, signal)
    detector = make_detector(name).fit(values[:TRAIN], timestamps=t[:TRAIN])
    context = detector.scoring_context
    assert 0 <= context <= CONTEXT_POINTS
    if context == CONTEXT_POINTS:
        pytest.skip("looks back: given the default context window, as the worker does")
    last = TRAIN + 700
    full = detector.score_samples(values[TRAIN : last + 1], timestamps=t[TRAIN : last + 1])[-1]
    short = detector.score_samples(
        values[last - context : last + 1], timestamps=t[last - context : last + 1]
    )[-1]
    assert short == pytest.approx(full)
