"""Anomaly detectors for one series: scikit-learn estimators with calibrated scores and bands."""

from tsmon.detection.base import Bands, BaseDetector, ResidualDetector
from tsmon.detection.calibration import TailCalibrator, UpperTailCalibrator
from tsmon.detection.ensemble import EnsembleDetector
from tsmon.detection.ewma import EWMADetector
from tsmon.detection.extreme import ExtremeDetector
from tsmon.detection.forest import IsolationForestDetector, LOFDetector
from tsmon.detection.level_shift import LevelShiftDetector
from tsmon.detection.onset import OnsetDetector
from tsmon.detection.robust import GaussianDetector, MADDetector, RollingQuantileDetector
from tsmon.detection.seasonal import SeasonalBaseline
from tsmon.detection.seasonality import detect_period
from tsmon.detection.state import DETECTORS, from_state, make_detector, to_state

__all__ = [
    "DETECTORS",
    "Bands",
    "BaseDetector",
    "EWMADetector",
    "EnsembleDetector",
    "ExtremeDetector",
    "GaussianDetector",
    "IsolationForestDetector",
    "LOFDetector",
    "LevelShiftDetector",
    "MADDetector",
    "OnsetDetector",
    "ResidualDetector",
    "RollingQuantileDetector",
    "SeasonalBaseline",
    "TailCalibrator",
    "UpperTailCalibrator",
    "detect_period",
    "from_state",
    "make_detector",
    "to_state",
]
