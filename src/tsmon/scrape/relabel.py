"""Prometheus relabeling (relabel_configs, metric_relabel_configs): every action, Prometheus' defaults."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from tsmon.scrape.fields import ScrapeConfigError, items, mapping, names, string, warn_keys

ACTIONS = names(
    "replace keep drop keepequal dropequal hashmod labelmap labeldrop labelkeep lowercase uppercase"
)
_NEEDS_TARGET = frozenset({"replace", "hashmod", "lowercase", "uppercase", "keepequal", "dropequal"})
_KEYS = ("source_labels", "separator", "regex", "modulus", "target_label", "replacement", "action")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
# A target_label of the replace action may hold $1 / ${name} references (Prometheus' relabelTargetLegacy).
_TARGET_WITH_VARS = re.compile(r"(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+")
# Go's regexp.Expand: $name or ${name} (name: letters, digits, _; as long as possible), $$ is a $.
_REFERENCE = re.compile(r"\$(?:\$|\{(\w+)\}|(\w+))", re.ASCII)
DEFAULT_REGEX = "(.*)"


_LEADING_FLAGS = re.compile(r"^\(\?([ims]+)\)")


def _compile(regex: str) -> re.Pattern[str]:
    # Prometheus anchors the regex at both ends, `.` matching newlines too: ^(?s:regex)$ (callers
    # use fullmatch). Python takes flags such as (?i) only at the very start: lift them out.
    flags = _LEADING_FLAGS.match(regex)
    if flags:
        return re.compile(f"(?{flags.group(1)})(?s:{regex[flags.end() :]})")
    return re.compile(f"(?s:{regex})")


_DEFAULT = _compile(DEFAULT_REGEX)


@dataclass(frozen=True)
class RelabelConfig:
    action: str = "replace"
    source_labels: tuple[str, ...] = ()
    separator: str = ";"
    regex: re.Pattern[str] = _DEFAULT
    modulus: int = 0
    target_label: str = ""
    replacement: str = "$1"


def expand(template: str, match: re.Match[str]) -> str:
    """Go's Regexp.ExpandString: a reference to a missing or unmatched group is empty."""

    def group(ref: re.Match[str]) -> str:
        name = ref.group(1) or ref.group(2)
        if name is None:
            return "$"
        try:
            return match.group(int(name) if name.isdigit() else name) or ""
        except IndexError:  # no such group
            return ""

    return _REFERENCE.sub(group, template)


def parse_relabel_configs(raw: object, where: str) -> tuple[RelabelConfig, ...]:
    return tuple(_parse(rule, f"{where}[{n}]") for n, rule in enumerate(items(raw, where)))


def _parse(raw: Any, where: str) -> RelabelConfig:
    rule = mapping(raw, where)
    warn_keys(rule, _KEYS, (), where)
    action = string(rule, "action", where, "replace").lower()
    if action not in ACTIONS:
        raise ScrapeConfigError(f"{where}: unknown relabel action {action!r} (one of {sorted(ACTIONS)})")
    sources = rule.get("source_labels") or []
    if isinstance(sources, str) or not all(isinstance(s, str) for s in items(sources, where)):
        raise ScrapeConfigError(f"{where}: source_labels must be a list of label names")
    regex_text = DEFAULT_REGEX if "regex" not in rule else string(rule, "regex", where)
    try:
        regex = _compile(regex_text)
    except re.error as exc:
        raise ScrapeConfigError(f"{where}: regex {regex_text!r} does not compile: {exc}") from exc
    modulus = rule.get("modulus", 0) or 0
    if isinstance(modulus, bool) or not isinstance(modulus, int) or modulus < 0:
        raise ScrapeConfigError(f"{where}: modulus must be a positive integer")
    config = RelabelConfig(
        action,
        tuple(sources),
        string(rule, "separator", where, ";"),
        regex,
        modulus,
        string(rule, "target_label", where),
        string(rule, "replacement", where, "$1"),
    )
    _validate(config, "regex" in rule, where)
    return config


def _validate(c: RelabelConfig, has_regex: bool, where: str) -> None:
    """Prometheus' relabel.Config.Validate, with its messages."""
    if c.action == "hashmod" and not c.modulus:
        raise ScrapeConfigError(f"{where}: relabel configuration for hashmod requires non-zero modulus")
    if c.action in _NEEDS_TARGET and not c.target_label:
        raise ScrapeConfigError(
            f"{where}: relabel configuration for {c.action} action requires 'target_label'"
        )
    if c.action == "replace" and not _TARGET_WITH_VARS.fullmatch(c.target_label):
        raise ScrapeConfigError(f"{where}: {c.target_label!r} is invalid 'target_label' for replace action")
    plain_target = {"lowercase", "uppercase", "keepequal", "dropequal", "hashmod"}
    if c.action in plain_target and not LABEL_NAME.fullmatch(c.target_label):
        raise ScrapeConfigError(f"{where}: {c.target_label!r} is invalid 'target_label' for {c.action}")
    if c.action == "labelmap" and not _TARGET_WITH_VARS.fullmatch(c.replacement):
        raise ScrapeConfigError(f"{where}: {c.replacement!r} is invalid 'replacement' for labelmap action")
    defaults = c.modulus == 0 and c.separator == ";" and c.replacement == "$1"
    if c.action in {"keepequal", "dropequal"} and (has_regex or not defaults):
        raise ScrapeConfigError(
            f"{where}: {c.action} action requires only 'source_labels' and 'target_label'"
        )
    if c.action in {"lowercase", "uppercase"} and c.replacement != "$1":
        raise ScrapeConfigError(f"{where}: 'replacement' can not be set for {c.action} action")
    if c.action in {"labeldrop", "labelkeep"} and (c.source_labels or c.target_label or not defaults):
        raise ScrapeConfigError(f"{where}: {c.action} action requires only 'regex', and no other fields")


def relabel(labels: dict[str, str], configs: tuple[RelabelConfig, ...]) -> dict[str, str] | None:
    """The labels after the rules, in order; None when a rule drops them. ``labels`` is not changed.

    As in Prometheus, setting a label to the empty string removes it.
    """
    out = dict(labels)
    for c in configs:
        value = c.separator.join(out.get(name, "") for name in c.source_labels)
        if not _apply(c, value, out):
            return None
    return out


def _set(labels: dict[str, str], name: str, value: str) -> None:
    if value:
        labels[name] = value
    else:
        labels.pop(name, None)


def _apply(c: RelabelConfig, value: str, out: dict[str, str]) -> bool:
    """One rule: False when it drops the labels; otherwise ``out`` is changed in place."""
    action = c.action
    if action in {"keep", "drop"}:
        return (c.regex.fullmatch(value) is not None) == (action == "keep")
    if action in {"keepequal", "dropequal"}:
        return (out.get(c.target_label, "") == value) == (action == "keepequal")
    if action == "replace":
        match = c.regex.fullmatch(value)
        if match is not None:  # no match: no replacement
            target = expand(c.target_label, match)
            if LABEL_NAME.fullmatch(target):
                _set(out, target, expand(c.replacement, match))
    elif action in {"lowercase", "uppercase"}:
        _set(out, c.target_label, value.lower() if action == "lowercase" else value.upper())
    elif action == "hashmod":
        digest = hashlib.md5(value.encode(), usedforsecurity=False).digest()
        _set(out, c.target_label, str(int.from_bytes(digest[8:], "big") % c.modulus))
    else:
        _names(c, out)
    return True


def _names(c: RelabelConfig, out: dict[str, str]) -> None:
    """labelmap, labeldrop, labelkeep: rules over label names, each seeing the names as they were."""
    for name, label in list(out.items()):
        match = c.regex.fullmatch(name)
        if c.action == "labelmap":
            if match is not None:
                _set(out, expand(c.replacement, match), label)
        elif (match is not None) == (c.action == "labeldrop"):
            del out[name]
