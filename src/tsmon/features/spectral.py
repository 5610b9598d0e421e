"""Frequency-domain features of windows: dominant periods, their share of the power, spectral entropy."""

# scikit-learn spells the data matrix X.
# ruff: noqa: N803

from __future__ import annotations

from typing import Any, Self

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, TransformerMixin

from tsmon.features.statistical import FloatArray, windows_of


def _filled(w: FloatArray) -> FloatArray:
    """Missing values replaced by the window's mean, then the least-squares line removed (a trend is
    not a period: its power would crowd the lowest frequencies)."""
    out = w.copy()
    for row in out:
        ok = np.isfinite(row)
        row[~ok] = row[ok].mean() if ok.any() else 0.0
    x = np.arange(w.shape[1], dtype=np.float64)
    xc = x - x.mean()
    slope = (out - out.mean(1, keepdims=True)) @ xc / (xc @ xc)
    return np.asarray(out - out.mean(1, keepdims=True) - slope[:, None] * xc[None, :], dtype=np.float64)


class SpectralFeatures(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Per window: the ``n_periods`` strongest periods (in steps) with their share of the power, and
    the spectral entropy.

    The periodogram is ``|rfft|^2`` of the window after removing its mean and linear trend,
    without the zero frequency.  Spectral entropy is the Shannon entropy of the normalised
    power over frequencies divided by its maximum ``log(n_freqs)``: near 0 for one pure
    period, near 1 for white noise.  A constant window has no power: periods 0, shares 0,
    entropy 1 (nothing is predictable from its spectrum).  Assumes evenly spaced values.

    Parameters
    ----------
    n_periods : int, default=2
        Dominant periods reported.

    Attributes
    ----------
    n_features_in_ : int
        Window length seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> f = SpectralFeatures(n_periods=1).fit_transform(np.sin(2 * np.pi * np.arange(96) / 24))
    >>> float(f[0, 0]), bool(f[0, 1] > 0.9), bool(f[0, 2] < 0.1)
    (24.0, True, True)
    """

    def __init__(self, *, n_periods: int = 2) -> None:
        self.n_periods = n_periods

    def fit(self, X: npt.ArrayLike, y: object = None) -> Self:
        self.n_features_in_ = windows_of(X).shape[1]
        return self

    def transform(self, X: npt.ArrayLike) -> FloatArray:
        if self.n_periods < 1:
            raise ValueError(f"n_periods must be positive, got {self.n_periods}")
        w = _filled(windows_of(X))
        n = w.shape[1]
        power = np.abs(np.fft.rfft(w, axis=1))[:, 1:] ** 2
        periods = n / np.arange(1, power.shape[1] + 1)
        total = power.sum(axis=1, keepdims=True)
        share = np.divide(power, total, out=np.zeros_like(power), where=total > 0)
        k = min(self.n_periods, share.shape[1])
        top = np.argsort(-share, axis=1, kind="stable")[:, :k]
        top_share = np.take_along_axis(share, top, axis=1)
        top_period = np.where(top_share > 0, periods[top], 0.0)
        logs = np.log(share, out=np.zeros_like(share), where=share > 0)
        entropy = -(share * logs).sum(axis=1) / np.log(max(share.shape[1], 2))
        entropy = np.where(total[:, 0] > 0, entropy, 1.0)
        pad = np.zeros((w.shape[0], self.n_periods - k))
        pairs = np.stack([top_period, top_share], axis=2).reshape(w.shape[0], 2 * k)
        return np.column_stack([pairs, np.repeat(pad, 2, axis=1), entropy])

    def get_feature_names_out(self, input_features: Any = None) -> npt.NDArray[np.object_]:
        names = [f"{kind}_{i + 1}" for i in range(self.n_periods) for kind in ("period", "power")]
        return np.array([*names, "spectral_entropy"], dtype=object)
