"""Threshold-free accuracy: AUC-PR (average precision) and VUS-PR (Paparrizos et al., VLDB 2022)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score

from tsmon.evaluation.nab_corpus import FloatArray

VUS_MAX_BUFFER = 100  # rows: buffers 0..100 around each labelled range, as TSB-UAD's default window
VUS_THRESHOLDS = 250


def auc_pr(labels: FloatArray, scores: FloatArray) -> float:
    """Average precision of ``scores`` against 0/1 ``labels`` (NaN without a positive)."""
    if not np.any(labels > 0):
        return float("nan")
    return float(average_precision_score(labels > 0, scores))


def _segments(labels: FloatArray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (inclusive) of each run of positive labels."""
    pos = np.concatenate(([False], labels > 0, [False]))
    edges = np.flatnonzero(pos[1:] != pos[:-1])
    return edges[0::2], edges[1::2] - 1


def buffered(labels: FloatArray, buffer: int) -> FloatArray:
    """Labels with ``buffer // 2`` rows either side of each range, weighted ``sqrt(1 - d / buffer)``."""
    out = (labels > 0).astype(np.float64)
    if buffer <= 0:
        return out
    n = labels.size
    starts, ends = _segments(labels)
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        after = np.arange(e + 1, min(e + 1 + buffer // 2, n))
        out[after] += np.sqrt(1 - (after - e) / buffer)
        before = np.arange(max(s - buffer // 2, 0), s)
        out[before] += np.sqrt(1 - (s - before) / buffer)
    return np.minimum(out, 1.0)


def range_pr_auc(labels: FloatArray, scores: FloatArray, buffer: int) -> float:
    """Area under the range-based precision-recall curve with a buffer of ``buffer`` rows.

    Recall is the buffered true-positive mass over the mean of the labelled and buffered masses,
    times the fraction of (buffered) ranges with at least one detection; precision is the buffered
    true-positive mass over the detections.  250 thresholds at evenly spaced ranks, trapezoids
    from (recall 0, precision 1).
    """
    soft = buffered(labels, buffer)
    order = np.argsort(-scores, kind="stable")
    ranked = scores[order]
    idx = np.linspace(0, scores.size - 1, VUS_THRESHOLDS).astype(np.int64)
    thresholds = ranked[idx]
    # Rows scoring at least a threshold: through the last tie of that score in the ranking.
    count = np.searchsorted(-ranked, -thresholds, side="right")
    tp = np.concatenate(([0.0], np.cumsum(soft[order])))[count]
    starts, ends = _segments(soft)
    seg_max = np.array([scores[s : e + 1].max() for s, e in zip(starts, ends, strict=True)])
    existence = (seg_max[None, :] >= thresholds[:, None]).sum(axis=1) / max(starts.size, 1)
    p_new = (float(np.sum(labels > 0)) + float(soft.sum())) / 2
    recall = np.minimum(tp / p_new, 1.0) * existence
    precision = tp / np.maximum(count, 1)
    recall = np.concatenate(([0.0], recall))
    precision = np.concatenate(([1.0], precision))
    return float(np.sum(np.diff(recall) * (precision[1:] + precision[:-1]) / 2))


def vus_pr(labels: FloatArray, scores: FloatArray, max_buffer: int = VUS_MAX_BUFFER) -> float:
    """Mean range-PR AUC over buffers 0..``max_buffer`` (NaN without a positive)."""
    if not np.any(labels > 0):
        return float("nan")
    return float(np.mean([range_pr_auc(labels, scores, b) for b in range(max_buffer + 1)]))
