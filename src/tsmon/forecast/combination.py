"""A forecast combination: the average of several forecasters' points and band edges."""

from __future__ import annotations

from typing import Self

import numpy as np
import numpy.typing as npt
from sklearn.base import clone

from tsmon.forecast.base import MAX_HISTORY, BaseForecaster, FloatArray


class Combination(BaseForecaster):
    """Mean of the members' forecasts; the band's edges are the means of the members' edges.

    Averaging forecasts of different kinds (a smoothing model and a tree model) cancels part of
    their errors, which is why simple combinations win forecasting competitions so often; the
    averaged quantiles (Vincentisation) keep a band between the members' bands.  Assumes the
    members are comparably good: the CV (:class:`tsmon.forecast.selection.AutoForecaster`)
    offers a combination of its two best candidates only, and keeps it only when it scores better.

    Parameters
    ----------
    members : list of forecaster
        Unfitted forecasters, cloned at fit.
    period, max_history
        As in :class:`tsmon.forecast.base.BaseForecaster`; the period is passed to members whose
        own is None.

    Attributes
    ----------
    members_ : list of forecaster
        The fitted members.
    period_, history_, step_, last_time_, n_train_, time_based_
        As in every forecaster.

    Examples
    --------
    >>> import numpy as np
    >>> from tsmon.forecast.naive import SeasonalNaive
    >>> y = np.tile([0.0, 4.0], 10)
    >>> both = Combination([SeasonalNaive(period=1), SeasonalNaive(period=2)]).fit(y)
    >>> both.predict(2).yhat
    array([2., 4.])
    """

    def __init__(
        self, members: list[BaseForecaster], *, period: int | None = None, max_history: int = MAX_HISTORY
    ) -> None:
        super().__init__(period=period, max_history=max_history)
        self.members = members

    def fit(self, y: npt.ArrayLike, *, timestamps: npt.ArrayLike | None = None) -> Self:
        super().fit(y, timestamps=timestamps)
        if not self.members:
            raise ValueError("members must name at least one forecaster")
        self.members_ = []
        for member in self.members:
            est: BaseForecaster = clone(member)
            if est.get_params().get("period", 0) is None:
                est.set_params(period=self.period_)
            self.members_.append(est.fit(y, timestamps=timestamps))
        return self

    def update(self, y: npt.ArrayLike, *, timestamps: npt.ArrayLike | None = None) -> Self:
        super().update(y, timestamps=timestamps)
        for member in self.members_:
            member.update(y, timestamps=timestamps)
        return self

    def _fit(self, values: FloatArray) -> None:
        pass  # fit() above fits the members: they need the timestamps too

    def _predict(self, horizon: int, level: float) -> tuple[FloatArray, FloatArray, FloatArray]:
        forecasts = [m.predict(horizon, level=level) for m in self.members_]
        return (
            np.mean([f.yhat for f in forecasts], axis=0),
            np.mean([f.lower for f in forecasts], axis=0),
            np.mean([f.upper for f in forecasts], axis=0),
        )
