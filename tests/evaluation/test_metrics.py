"""AUC-PR and VUS-PR on cases small enough to check by hand."""

from __future__ import annotations

import numpy as np
import pytest

from tsmon.evaluation.metrics import auc_pr, buffered, range_pr_auc, vus_pr


def test_auc_pr_by_hand() -> None:
    labels = np.array([0, 1, 0, 1, 0], dtype=float)
    # Ranked: 0.9 (pos), 0.8 (neg), 0.7 (pos): precision 1 at recall 0.5, 2/3 at recall 1.
    scores = np.array([0.1, 0.9, 0.8, 0.7, 0.2])
    assert auc_pr(labels, scores) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert np.isnan(auc_pr(np.zeros(5), scores))


def test_buffer_weights() -> None:
    labels = np.zeros(12)
    labels[5:7] = 1
    soft = buffered(labels, 4)  # two rows either side, sqrt(1 - d / 4)
    np.testing.assert_allclose(soft[3:9], [np.sqrt(0.5), np.sqrt(0.75), 1, 1, np.sqrt(0.75), np.sqrt(0.5)])
    assert soft[:3].sum() == 0 and soft[9:].sum() == 0


def test_perfect_and_useless_detectors() -> None:
    labels = np.zeros(400)
    labels[100:120] = 1
    labels[300:310] = 1
    perfect = labels.copy()
    assert range_pr_auc(labels, perfect, 0) == pytest.approx(1.0, abs=0.01)
    assert vus_pr(labels, perfect, max_buffer=10) > 0.9
    constant = np.ones(400)
    # Every row flagged at every threshold: precision is the positive share, recall 1.
    share = labels.mean()
    assert range_pr_auc(labels, constant, 0) == pytest.approx((1 + share) / 2, abs=0.01)
    reversed_ = 1 - labels
    assert vus_pr(labels, reversed_, max_buffer=10) < vus_pr(labels, perfect, max_buffer=10)
