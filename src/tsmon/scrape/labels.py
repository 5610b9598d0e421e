"""Labels as Prometheus builds them: a target's (relabel_configs, instance, URL) and its samples'."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from tsmon.ingest.batch import canonical_labels
from tsmon.scrape.config import ScrapeJob
from tsmon.scrape.fields import ScrapeConfigError, format_duration, parse_duration
from tsmon.scrape.relabel import relabel
from tsmon.scrape.targets import Target

ADDRESS, SCHEME, PATH = "__address__", "__scheme__", "__metrics_path__"
INTERVAL, TIMEOUT, PARAM = "__scrape_interval__", "__scrape_timeout__", "__param_"


@dataclass(frozen=True)
class ScrapeTarget:
    """A target after relabeling: the labels every sample of it gets, where to scrape it, how long to wait."""

    labels: dict[str, str]  # job, instance and the rest; no `__` label
    url: str
    timeout_s: float

    @property
    def key(self) -> str:
        """The target's identity (as Prometheus': its labels and its URL), kept across scrapes."""
        return f"{canonical_labels(self.labels)} {self.url}"


def resolve_target(job: ScrapeJob, target: Target) -> ScrapeTarget | None:
    """Prometheus' PopulateLabels: None when relabel_configs drop the target; ScrapeConfigError if invalid."""
    labels = {**target.labels, ADDRESS: target.address}
    defaults = {
        "job": job.job_name,
        INTERVAL: format_duration(job.interval_s),
        TIMEOUT: format_duration(job.timeout_s),
        PATH: job.metrics_path,
        SCHEME: job.scheme,
    }
    defaults.update({PARAM + name: values[0] for name, values in job.params.items() if values})
    for name, value in defaults.items():
        if not labels.get(name):
            labels[name] = value
    relabelled = relabel({k: v for k, v in labels.items() if v}, job.relabel_configs)
    if relabelled is None:
        return None
    address = relabelled.get(ADDRESS, "")
    if not address:
        raise ScrapeConfigError(f"target {target.address}: no address after relabeling")
    if "/" in address:
        raise ScrapeConfigError(f"target {target.address}: {address!r} is not a valid hostname")
    scheme = relabelled.get(SCHEME, "")
    if scheme not in {"http", "https"}:
        raise ScrapeConfigError(f"target {address}: scheme {scheme!r} is not http or https")
    interval = parse_duration(relabelled.get(INTERVAL, ""), f"target {address} {INTERVAL}")
    timeout = parse_duration(relabelled.get(TIMEOUT, ""), f"target {address} {TIMEOUT}")
    if not interval or not timeout or timeout > interval:
        raise ScrapeConfigError(f"target {address}: scrape timeout must be positive and within the interval")
    relabelled.setdefault("instance", address)  # meta labels go below, with every `__` label
    params = {name: list(values) for name, values in job.params.items()}
    for name, value in relabelled.items():
        if name.startswith(PARAM):
            params.setdefault(name[len(PARAM) :], [""])[0] = value
    path = relabelled.get(PATH, "")
    url = f"{scheme}://{address}{path if path.startswith('/') else '/' + path}"
    if params:
        url += "?" + urlencode(sorted(params.items()), doseq=True)
    public = {name: value for name, value in relabelled.items() if not name.startswith("__")}
    return ScrapeTarget(public, url, timeout)


def sample_labels(exposed: dict[str, str], target: dict[str, str], honor_labels: bool) -> dict[str, str]:
    """Prometheus' mutateSampleLabels before metric_relabel_configs. ``exposed`` is changed and returned.

    honor_labels: an exposed label wins over the target's; otherwise the target's wins and the exposed
    one is kept as exported_<name> (exported_exported_<name> if that is taken too).
    """
    if honor_labels:
        for name, value in target.items():
            exposed.setdefault(name, value)
        return exposed
    clashes = [(name, exposed[name]) for name in sorted(target) if exposed.get(name)]
    exposed.update(target)
    for name, value in sorted(clashes, key=lambda c: len(c[0])):
        new = f"exported_{name}"
        while exposed.get(new):
            new = f"exported_{new}"
        exposed[new] = value
    return exposed
