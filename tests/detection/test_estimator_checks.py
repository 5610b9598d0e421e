"""scikit-learn's estimator checks on every detector, with the few that cannot apply marked."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from tsmon.detection import DETECTORS, BaseDetector, GaussianDetector, MADDetector, make_detector

# The checks fit on 10 to 100 rows: short windows make the rolling detectors score every row
# rather than wait for a full window.
ESTIMATORS = [
    make_detector(
        name,
        **{"iforest": {"random_state": 0}, "quantile": {"window": 5}, "level_shift": {"window": 3}}.get(
            name, {}
        ),
    )
    for name in DETECTORS
]

# A detector scores a point against the points before it (forecasts, trailing windows, seasonal
# position), so scoring rows shuffled or a subset of rows legitimately changes the scores.
ORDER = "time-series detector: a row's score depends on the rows before it and on its position"
# fit(X_1d) must raise in scikit-learn's API; here a 1-D array is one series and is accepted.
ONE_D = "a 1-D array is accepted as a univariate series by design"


def expected_failed_checks(estimator: BaseDetector) -> dict[str, str]:
    failed = {"check_fit1d": ONE_D}
    if type(estimator) not in (MADDetector, GaussianDetector):  # point-wise: order does not matter
        failed["check_methods_sample_order_invariance"] = ORDER
        failed["check_methods_subset_invariance"] = ORDER
    return failed


@parametrize_with_checks(  # type: ignore[untyped-decorator]
    ESTIMATORS, expected_failed_checks=expected_failed_checks, xfail_strict=True
)
def test_sklearn_compatible(estimator: BaseDetector, check: Callable[[BaseDetector], None]) -> None:
    check(estimator)


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_params_are_only_stored_by_init(name: str) -> None:
    est = DETECTORS[name]()
    assert not [k for k in vars(est) if k.endswith("_")]
    assert est.get_params()["threshold"] == 0.99
