"""Staleness markers as Prometheus writes them, for series a target stopped exposing or targets gone."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from tsmon.ingest.batch import SampleBatch

# Prometheus' value.StaleNaN: a NaN with this exact bit pattern. Remote write ingest stores it as
# sent (bit-exact, like any value); the scraper stores its own the same way, and the public views
# (tsmon.metric_samples), the windows and the counter functions leave it out.
STALE_BITS = 0x7FF0000000000002
STALE_NAN: float = struct.unpack("<d", struct.pack("<Q", STALE_BITS))[0]

SeriesKey = tuple[str, str]  # (metric, canonical labels JSON)


@dataclass
class _Last:
    tracked: set[SeriesKey]  # series the target's last scrape stored at its own time
    report: list[SeriesKey]  # its up, scrape_duration_seconds, ... series


@dataclass
class Staleness:
    """Each target's last scrape, by target key: what the next one no longer has is marked stale.

    As in Prometheus: a series missing from a scrape gets a marker at that scrape's time; a failed
    scrape (up=0) stores no series, so every series of the last successful one gets a marker (once);
    a target that is gone (relabelled away, removed from its file_sd file) gets markers for all its
    series, `up` and the other report series included. Series exposed with their own timestamps are
    not tracked (unless track_timestamps_staleness).
    """

    _targets: dict[str, _Last] = field(default_factory=dict)

    def scraped(
        self, target: str, tracked: set[SeriesKey], report: list[SeriesKey], time_us: int, into: SampleBatch
    ) -> int:
        """Record a target's scrape; markers for the series its last scrape had and this one has not."""
        last = self._targets.get(target)
        self._targets[target] = _Last(set(tracked), report)
        return _mark(sorted(last.tracked - tracked) if last else [], time_us, into)

    def gone(self, current: set[str], time_us: int, into: SampleBatch) -> int:
        """Markers for every series of the targets not in ``current`` any more; they are forgotten."""
        n = 0
        for target in sorted(set(self._targets) - current):
            last = self._targets.pop(target)
            n += _mark([*sorted(last.tracked), *last.report], time_us, into)
        return n


def _mark(series: list[SeriesKey], time_us: int, into: SampleBatch) -> int:
    for metric, labels in series:
        into.append(metric, labels, time_us, STALE_NAN)
    return len(series)
