"""Which parts (label values) carry the change of an aggregate's sum or mean between two ranges."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tsmon.stats._common import FloatArray, as_float


@dataclass(frozen=True)
class ContributionResult:
    """Per part: its share of the change (``contribution`` sums exactly to ``delta``).

    For the mean, ``contribution = rate + mix``: ``rate`` is the part's own mean moving (at its
    average weight), ``mix`` its weight (share of the samples) moving (at its average mean).
    For the sum, ``rate`` is the whole contribution and ``mix`` is 0.
    """

    total_a: float
    total_b: float
    delta: float
    contribution: FloatArray
    share: FloatArray
    rate: FloatArray
    mix: FloatArray


def contributions(
    count_a: npt.ArrayLike,
    sum_a: npt.ArrayLike,
    count_b: npt.ArrayLike,
    sum_b: npt.ArrayLike,
    *,
    aggregate: str = "mean",
) -> ContributionResult:
    """Decompose ``total(b) - total(a)`` of the sum or the sample mean over parts.

    Each part's count and sum of values in range a and b (0 where the part has none). The mean
    is ``sum / count`` over every sample: ``mean_b - mean_a = sum_k (w_kb m_kb - w_ka m_ka)``
    with ``w`` the part's share of the samples and ``m`` its mean. A part's ``share`` of a delta
    near 0 is unstable (large, of either sign): read contributions, not shares, then.
    """
    if aggregate not in ("mean", "sum"):
        raise ValueError(f"aggregate must be 'mean' or 'sum', not {aggregate!r}")
    na, sa, nb, sb = as_float(count_a), as_float(sum_a), as_float(count_b), as_float(sum_b)
    if aggregate == "sum":
        c = sb - sa
        ta, tb = float(sa.sum()), float(sb.sum())
        rate, mix = c, np.zeros_like(c)
    else:
        tna, tnb = float(na.sum()), float(nb.sum())
        with np.errstate(divide="ignore", invalid="ignore"):
            wa, wb = na / tna, nb / tnb
            ma, mb = np.where(na > 0, sa / na, 0.0), np.where(nb > 0, sb / nb, 0.0)
        # A part absent from one range has no mean there: its rate effect is 0, all is mix.
        ma_ = np.where(na > 0, ma, mb)
        mb_ = np.where(nb > 0, mb, ma)
        rate = (wa + wb) / 2.0 * (mb_ - ma_)
        mix = (ma_ + mb_) / 2.0 * (wb - wa)
        c = rate + mix
        ta, tb = float(sa.sum() / tna) if tna else np.nan, float(sb.sum() / tnb) if tnb else np.nan
    delta = tb - ta
    with np.errstate(divide="ignore", invalid="ignore"):
        share = c / delta if delta != 0 else np.full_like(c, np.nan)
    return ContributionResult(
        ta, tb, delta, np.asarray(c, np.float64), np.asarray(share, np.float64), rate, np.asarray(mix)
    )
