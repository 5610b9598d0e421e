"""The NAB scorer reproduces the published scores of two reference detectors, and its rules on small cases."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import SHARED
from tsmon.evaluation.nab_corpus import NabFile, load_corpus, read_scores
from tsmon.evaluation.nab_scorer import PROFILES, best_threshold, score_corpus, sigmoid, sweep

NAB = SHARED / "nab"
needs_nab = pytest.mark.skipif(not (NAB / "labels").is_dir(), reason="NAB corpus not on this machine")


@pytest.fixture(scope="module")
def corpus() -> list[NabFile]:
    return load_corpus(NAB)


@needs_nab
@pytest.mark.parametrize(
    ("detector", "expected"),
    [("windowedGaussian", (39.65, 20.87, 47.41)), ("relativeEntropy", (54.64, 47.60, 58.84))],
)
def test_reproduces_published_scores(
    corpus: list[NabFile], detector: str, expected: tuple[float, ...]
) -> None:
    scores = [read_scores(NAB / "reference-scores" / detector / f.key, f.values.size) for f in corpus]
    result = score_corpus(corpus, scores)
    got = tuple(round(result.scores[p.name], 2) for p in PROFILES)
    assert got == expected


@needs_nab
def test_corpus_facts(corpus: list[NabFile]) -> None:
    assert len(corpus) == 58
    assert sum(f.values.size for f in corpus) == 365_558
    assert sum(len(f.windows) for f in corpus) == 116
    for f in corpus:
        assert np.all(np.diff(f.times) >= 0)
        assert f.probation == min(int(0.15 * f.values.size), 750)


def _file(n: int, windows: tuple[tuple[int, int], ...]) -> NabFile:
    times = np.arange(n, dtype=np.float64) * 300
    return NabFile("fam/f.csv", tuple(str(t) for t in times), times, np.zeros(n), windows)


STANDARD = PROFILES[0]


def test_earliest_detection_counts_and_false_positives_per_row() -> None:
    f = _file(1000, ((400, 499),))  # probation 150 rows
    scores = np.zeros(1000)
    scores[[420, 450]] = 0.9  # two detections in the window: the earlier one counts
    scores[100] = 0.95  # in probation: ignored
    scores[300] = 0.9  # before any window: -fp weight
    scores[[700, 950]] = 0.9  # after the window, weighted by distance
    s = sweep(scores, f, STANDARD)
    credit = sigmoid(np.array([-(499 - 420 + 1) / 100]))[0] / sigmoid(np.array([-1.0]))[0]
    after = sum(sigmoid(np.array([(i - 499) / 99]))[0] for i in (700, 950)) * 0.11
    assert s.at(0.9) == pytest.approx(credit - 0.11 + after)
    assert s.at(0.91) == pytest.approx(-1.0)  # only the probation row scores above: a miss
    assert sigmoid(np.array([3.5]))[0] == -1.0


def test_best_threshold_picks_the_optimum_or_never() -> None:
    f = _file(1000, ((400, 499),))
    scores = np.zeros(1000)
    scores[410] = 0.8
    scores[[600, 601, 602]] = 0.9  # false positives scoring higher than the true one
    best = best_threshold([sweep(scores, f, STANDARD)])
    assert best.threshold == 0.8
    lonely = np.zeros(1000)
    lonely[300] = 0.5
    assert best_threshold([sweep(lonely, _file(1000, ()), STANDARD)]).threshold == np.inf
