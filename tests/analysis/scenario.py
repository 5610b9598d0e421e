"""The seeded root-cause scenario: a cause series, downstream effects with lags, 500 unrelated series."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WINDOW_MIN = 15
BASELINE_MIN = 4 * WINDOW_MIN
SEASONAL, NOISY, COUNTERS = 200, 200, 100
DOWNSTREAM = 3
# Monitoring's usual cycles: half-hourly and hourly jobs, twice a day, daily, weekly (seconds).
PERIODS = (1800.0, 3600.0, 43200.0, 86400.0, 604800.0)


@dataclass(frozen=True)
class Scenario:
    """Samples of one seed's series, keyed by name; times are seconds from the baseline's start."""

    names: list[str]  # cause, down0.., then the unrelated ones
    series: list[np.ndarray]  # per name: (times, values)


def _ar1(rng: np.random.Generator, n: int, phi: float) -> np.ndarray:
    e = rng.normal(0, 1, n)
    x = np.empty(n)
    x[0] = e[0] / np.sqrt(1 - phi * phi)
    for i in range(1, n):
        x[i] = phi * x[i - 1] + e[i]
    return x * np.sqrt(1 - phi * phi)


def scenario(seed: int) -> Scenario:
    """One seed. Gauges are sampled once a minute, counters every 15 s. The cause steps up by 6-10 of
    its noise deviations 0-3 minutes into the window; each downstream series follows it 1-6 minutes
    later with a gain (its shift is 0.5-0.8 of the cause's) and its own noise. Unrelated: seasonal
    (periods of 30 min, 1 h, 12 h, 1 day and 1 week, amplitudes up to 10 noise deviations, any
    phase), noisy (white, AR(1) with phi 0.5-0.9, Student t with 3 degrees, rare spikes) and counters
    (Poisson increments, rates from 1 to 1,000 a sample, one in ten restarting from 0)."""
    rng = np.random.default_rng(seed)
    total = WINDOW_MIN + BASELINE_MIN
    minutes = np.arange(total) * 60.0 + rng.uniform(0, 59, total)  # one sample in each minute
    start = BASELINE_MIN * 60.0
    onset = start + rng.uniform(0, 180)
    shift = rng.uniform(6, 10)
    level = 50 + rng.normal(0, 1, total) + shift * (minutes >= onset)
    names, series = ["cause"], [np.stack([minutes, level])]
    for k in range(DOWNSTREAM):
        lag = rng.uniform(60, 360)
        gain = rng.uniform(0.5, 0.8)
        follow = 20 + gain * shift * (minutes >= onset + lag) + rng.normal(0, 1, total)
        names.append(f"down{k}")
        series.append(np.stack([minutes, follow]))
    for k in range(SEASONAL):
        period = PERIODS[k % len(PERIODS)]
        amp = rng.uniform(1, 10)
        wave = 100 + amp * np.sin(2 * np.pi * minutes / period + rng.uniform(0, 2 * np.pi))
        names.append(f"seasonal{k}")
        series.append(np.stack([minutes, wave + rng.normal(0, 1, total)]))
    for k in range(NOISY):
        kind = k % 4
        if kind == 0:
            x = rng.normal(0, 1, total)
        elif kind == 1:
            x = _ar1(rng, total, rng.uniform(0.5, 0.9))
        elif kind == 2:
            x = rng.standard_t(3, total)
        else:
            x = rng.normal(0, 1, total) + 8 * (rng.uniform(size=total) < 0.02)  # rare spikes
        names.append(f"noisy{k}")
        series.append(np.stack([minutes, 10 + rng.uniform(1, 5) * x]))
    fast = np.arange(total * 4) * 15.0 + rng.uniform(0, 14)
    for k in range(COUNTERS):
        steps = rng.poisson(np.exp(rng.uniform(0, np.log(1000))), fast.size).astype(float)
        count = np.cumsum(steps)
        if k % 10 == 0:  # a restart: the counter starts again from 0
            cut = int(rng.integers(1, fast.size))
            count[cut:] -= count[cut - 1]
        names.append(f"counter{k}")
        series.append(np.stack([fast, count]))
    return Scenario(names, series)
