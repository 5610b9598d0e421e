"""Where targets come from: static_configs, and file_sd_configs (JSON and YAML files re-read on change)."""

from __future__ import annotations

import glob
import json
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tsmon.scrape.fields import ScrapeConfigError, items, label_value, mapping, parse_duration, warn_keys
from tsmon.scrape.relabel import LABEL_NAME

log = logging.getLogger("tsmon.scrape")

# Prometheus' patFileSDName: a glob only in the last path element, and a JSON or YAML extension.
_FILE_NAME = re.compile(r"^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$")
FILEPATH_LABEL = "__meta_filepath"


@dataclass(frozen=True)
class Target:
    """A discovered target: its address and the labels of its group (meta labels included)."""

    address: str  # host:port, the `__address__` label
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FileSDConfig:
    files: tuple[str, ...]  # glob patterns, relative ones already joined to the config's directory
    refresh_interval_s: float = 300.0


def parse_file_sd_configs(raw: object, where: str, base: Path) -> tuple[FileSDConfig, ...]:
    configs = []
    for n, entry in enumerate(items(raw, where)):
        here = f"{where}[{n}]"
        sd = mapping(entry, here)
        warn_keys(sd, ("files", "refresh_interval"), (), here)
        files = items(sd.get("files"), f"{here}.files")
        if not files:
            raise ScrapeConfigError(
                f"{here}: file service discovery config must contain at least one path name"
            )
        for name in files:
            if not isinstance(name, str) or not _FILE_NAME.match(name):
                raise ScrapeConfigError(f"{here}: path name {name!r} is not valid for file discovery")
        interval = parse_duration(sd.get("refresh_interval", "5m"), f"{here}.refresh_interval")
        configs.append(FileSDConfig(tuple(str(base / name) for name in files), interval))
    return tuple(configs)


def _group(group: dict[str, object], where: str, strings_only: bool) -> list[Target]:
    """One target group's targets, each with the group's labels."""
    labels = {}
    for name, value in mapping(group.get("labels"), f"{where}.labels").items():
        if not isinstance(name, str) or not LABEL_NAME.fullmatch(name):
            raise ScrapeConfigError(f"{where}.labels: {name!r} is not a valid label name")
        if strings_only and not isinstance(value, str):  # JSON: a label value is a string
            raise ScrapeConfigError(f"{where}.labels: the value of {name} must be a string")
        labels[name] = label_value(value, f"{where}.labels.{name}")
    addresses = items(group.get("targets"), f"{where}.targets")
    if not all(isinstance(a, str) and a for a in addresses):
        raise ScrapeConfigError(f"{where}.targets must be host:port strings")
    return [Target(a, labels) for a in addresses]


def parse_static_configs(raw: object, where: str) -> tuple[Target, ...]:
    targets: list[Target] = []
    for i, entry in enumerate(items(raw, where)):
        group = mapping(entry, f"{where}[{i}]")
        warn_keys(group, ("targets", "labels"), (), f"{where}[{i}]")
        targets += _group(group, f"{where}[{i}]", strings_only=False)
    return tuple(targets)


def read_target_file(path: Path) -> list[Target]:
    """The targets of one file: a list of {targets: [host:port, ...], labels: {name: value}}."""
    text = path.read_text()
    is_json = path.suffix.lower() == ".json"
    try:
        doc = json.loads(text) if is_json else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ScrapeConfigError(f"{path}: not valid {'JSON' if is_json else 'YAML'}: {exc}") from exc
    out: list[Target] = []
    for i, group in enumerate(items(doc, str(path))):
        where = f"{path}: group {i}"
        if not isinstance(group, dict):
            raise ScrapeConfigError(f"{where}: expected a mapping with targets and labels")
        unknown = sorted(set(group) - {"targets", "labels"})
        if unknown:  # as Prometheus' strict decoding: a misspelt key is an error, not silence
            raise ScrapeConfigError(f"{where}: unknown keys {unknown}")
        group_targets = _group(group, where, strings_only=is_json)
        out += [Target(t.address, {**t.labels, FILEPATH_LABEL: str(path)}) for t in group_targets]
    return out


@dataclass
class _Read:
    stamp: tuple[int, int, int]  # mtime_ns, size, inode: a rewrite or an atomic rename changes one
    at: float
    targets: list[Target]


class FileTargets:
    """The targets of a job's file_sd_configs; files are re-read when they change or their refresh is due.

    A file that cannot be read (or is invalid) keeps the targets of its last good read, and says why
    in the log; a file that is gone takes its targets with it.
    """

    def __init__(self, configs: tuple[FileSDConfig, ...]) -> None:
        self.configs = configs
        self._files: dict[Path, _Read] = {}

    def targets(self, now: float | None = None) -> list[Target]:
        now = time.monotonic() if now is None else now
        seen: dict[Path, _Read] = {}
        for config in self.configs:
            for name in sorted({m for pattern in config.files for m in glob.glob(pattern)}):
                path = Path(name)
                read = seen.get(path) or self._refresh(path, config.refresh_interval_s, now)
                if read is not None:
                    seen[path] = read
        self._files = seen  # a file that is gone takes its targets with it
        return [target for read in seen.values() for target in read.targets]

    def _refresh(self, path: Path, interval: float, now: float) -> _Read | None:
        last = self._files.get(path)
        try:
            st = path.stat()
        except OSError:  # gone since listed
            return None
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if last is not None and last.stamp == stamp and now - last.at < interval:
            return last
        try:
            return _Read(stamp, now, read_target_file(path))
        except (OSError, ScrapeConfigError, UnicodeDecodeError) as exc:
            reason = (exc.strerror or str(exc)) if isinstance(exc, OSError) else str(exc)
            log.error("file_sd: %s; keeping its last targets (%d)", reason, len(last.targets) if last else 0)
            return _Read(stamp, now, last.targets if last else [])  # logged again when it changes
