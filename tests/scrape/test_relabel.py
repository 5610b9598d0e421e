"""Relabeling against Prometheus' own cases (model/relabel/relabel_test.go), written as scrape YAML."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tsmon.scrape.fields import ScrapeConfigError
from tsmon.scrape.relabel import expand, parse_relabel_configs, relabel

# (input labels, rules as YAML, output labels or None for dropped); outputs are Prometheus' own.
CASES: list[tuple[dict[str, str], str, dict[str, str] | None]] = [
    (
        {"a": "foo", "b": "bar", "c": "baz"},
        "[{source_labels: [a], regex: 'f(.*)', target_label: d, replacement: 'ch${1}-ch${1}'}]",
        {"a": "foo", "b": "bar", "c": "baz", "d": "choo-choo"},
    ),
    (
        {"a": "foo", "b": "bar", "c": "baz"},
        """[{source_labels: [a, b], regex: 'f(.*);(.*)r', target_label: a, replacement: 'b${1}${2}m'},
            {source_labels: [c, a], regex: '(b).*b(.*)ba(.*)', target_label: d, replacement: '$1$2$2$3'}]""",
        {"a": "boobam", "b": "bar", "c": "baz", "d": "boooom"},
    ),
    (
        {"a": "foo"},
        "[{source_labels: [a], regex: '.*o.*', action: drop}, {source_labels: [a], target_label: d}]",
        None,
    ),
    ({"a": "abc"}, "[{source_labels: [a], regex: '.*(b).*', target_label: d}]", {"a": "abc", "d": "b"}),
    ({"a": "foo"}, "[{source_labels: [a], regex: no-match, action: drop}]", {"a": "foo"}),
    ({"a": "foo"}, "[{source_labels: [a], regex: 'f|o', action: drop}]", {"a": "foo"}),  # anchored
    ({"a": "foo"}, "[{source_labels: [a], regex: no-match, action: keep}]", None),
    ({"a": "foo"}, "[{source_labels: [a], regex: 'f.*', action: KEEP}]", {"a": "foo"}),  # any case
    # No replacement when there is no match; a blank replacement deletes the label.
    ({"a": "boo"}, "[{source_labels: [a], regex: f, target_label: b, replacement: bar}]", {"a": "boo"}),
    (
        {"a": "foo", "f": "baz"},
        "[{source_labels: [a], regex: '(f).*', target_label: '$1', replacement: '$2'}]",
        {"a": "foo"},
    ),
    (
        {"a": "foo", "b": "bar", "c": "baz"},
        "[{source_labels: [c], target_label: d, action: hashmod, modulus: 1000}]",
        {"a": "foo", "b": "bar", "c": "baz", "d": "976"},
    ),
    (
        {"a": "foo\nbar"},
        "[{source_labels: [a], target_label: b, action: hashmod, modulus: 1000}]",
        {"a": "foo\nbar", "b": "734"},
    ),
    (
        {"a": "foo", "b1": "bar", "b2": "baz"},
        "[{regex: '(b.*)', replacement: 'bar_${1}', action: labelmap}]",
        {"a": "foo", "b1": "bar", "b2": "baz", "bar_b1": "bar", "bar_b2": "baz"},
    ),
    (
        {"a": "foo", "__meta_my_bar": "aaa", "__meta_my_baz": "bbb", "__meta_other": "ccc"},
        "[{regex: '__meta_(my.*)', replacement: '${1}', action: labelmap}]",
        {"a": "foo", "__meta_my_bar": "aaa", "__meta_my_baz": "bbb", "__meta_other": "ccc"}
        | {"my_bar": "aaa", "my_baz": "bbb"},
    ),
    (
        {"a": "some-name-value"},
        "[{source_labels: [a], regex: 'some-([^-]+)-([^,]+)', replacement: '${2}', target_label: '${1}'}]",
        {"a": "some-name-value", "name": "value"},
    ),
    (
        {"a": "some-name-value"},
        "[{source_labels: [a], regex: 'some-([^-]+)-([^,]+)', replacement: '${3}', target_label: '${1}'}]",
        {"a": "some-name-value"},
    ),
    (  # the target label expands to nothing valid: nothing happens
        {"a": "some-name-0"},
        "[{source_labels: [a], regex: 'some-([^-]+)-([^,]+)', replacement: '${1}', target_label: '${3}'}]",
        {"a": "some-name-0"},
    ),
    (
        {"__meta_sd_tags": "path:/secret,job:some-job,label:foo=bar"},
        """[{source_labels: [__meta_sd_tags], regex: '(?:.+,|^)path:(/[^,]+).*',
             target_label: __metrics_path__},
            {source_labels: [__meta_sd_tags], regex: '(?:.+,|^)job:([^,]+).*', target_label: job},
            {source_labels: [__meta_sd_tags], regex: '(?:.+,|^)label:([^=]+)=([^,]+).*',
             replacement: '${2}', target_label: '${1}'}]""",
        {"__meta_sd_tags": "path:/secret,job:some-job,label:foo=bar"}
        | {"__metrics_path__": "/secret", "job": "some-job", "foo": "bar"},
    ),
    (
        {"__meta_kubernetes_pod_container_port_name": "foo", "__meta_pod_port": "9091"},
        """[{regex: '^__meta_kubernetes_pod_container_port_name$', action: labeldrop},
            {source_labels: [__meta_pod_port], regex: '(.+)', replacement: metrics,
             target_label: __meta_kubernetes_pod_container_port_name},
            {source_labels: [__meta_kubernetes_pod_container_port_name], regex: '^metrics$',
             action: keep}]""",
        {"__meta_pod_port": "9091", "__meta_kubernetes_pod_container_port_name": "metrics"},
    ),
    (
        {"a": "foo", "b1": "bar", "b2": "baz"},
        "[{regex: '(b.*)', action: labelkeep}]",
        {"b1": "bar", "b2": "baz"},
    ),
    ({"a": "foo", "b1": "bar", "b2": "baz"}, "[{regex: '(b.*)', action: labeldrop}]", {"a": "foo"}),
    (
        {"foo": "bAr123Foo"},
        """[{source_labels: [foo], action: uppercase, target_label: foo_uppercase},
            {source_labels: [foo], action: lowercase, target_label: foo_lowercase}]""",
        {"foo": "bAr123Foo", "foo_lowercase": "bar123foo", "foo_uppercase": "BAR123FOO"},
    ),
    (
        {"__tmp_port": "1234", "__port1": "1234", "__port2": "5678"},
        "[{source_labels: [__tmp_port], action: keepequal, target_label: __port1}]",
        {"__tmp_port": "1234", "__port1": "1234", "__port2": "5678"},
    ),
    (
        {"__tmp_port": "1234", "__port1": "1234", "__port2": "5678"},
        "[{source_labels: [__tmp_port], action: dropequal, target_label: __port1}]",
        None,
    ),
    (
        {"__tmp_port": "1234", "__port1": "1234"},
        "[{source_labels: [__tmp_port], action: keepequal, target_label: __port2}]",
        None,
    ),
    # Defaults: regex (.*), replacement $1, separator ';'; a constant label; `regex:` empty matches "".
    (
        {"job": "foo", "__meta_dns_name": "example-some-x.com", "abc": "def"},
        """[{source_labels: [job, __meta_dns_name], regex: '(.*)some-[regex]', target_label: job,
             replacement: 'foo-${1}'},
            {source_labels: [abc], target_label: cde}, {replacement: static, target_label: abc},
            {regex: null, replacement: static2, target_label: abc2}]""",
        {
            "job": "foo",
            "__meta_dns_name": "example-some-x.com",
            "abc": "static",
            "cde": "def",
            "abc2": "static2",
        },
    ),
    ({"a": "x", "b": "y"}, "[{source_labels: [a, b], target_label: c}]", {"a": "x", "b": "y", "c": "x;y"}),
    ({"a": "Foo"}, "[{source_labels: [a], regex: '(?i)foo', action: keep}]", {"a": "Foo"}),
    ({"a": "x\ny"}, "[{source_labels: [a], regex: 'x.y', action: keep}]", {"a": "x\ny"}),  # (?s)
]


@pytest.mark.parametrize(("labels", "rules", "expected"), CASES)
def test_prometheus_relabel_cases(
    labels: dict[str, str], rules: str, expected: dict[str, str] | None
) -> None:
    configs = parse_relabel_configs(yaml.safe_load(rules), "relabel_configs")
    before = dict(labels)
    assert relabel(labels, configs) == expected
    assert labels == before


def test_go_template_expansion() -> None:
    m = re.fullmatch(r"(?P<host>[a-z]+):(\d+)", "web:9100")
    assert m is not None
    assert expand("$1", m) == "web" and expand("${2}x", m) == "9100x" and expand("$2x", m) == ""
    assert expand("$host-$$-${host}", m) == "web-$-web" and expand("$9 $ ${", m) == " $ ${"


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"action": "replace"}, "requires 'target_label'"),
        ({"action": "lowercase"}, "requires 'target_label'"),
        ({"action": "lowercase", "target_label": "${3}"}, "invalid 'target_label' for lowercase"),
        ({"action": "replace", "target_label": "-x${1}"}, "invalid 'target_label' for replace"),
        ({"action": "hashmod", "target_label": "h"}, "non-zero modulus"),
        ({"action": "keepequal", "target_label": "a", "regex": "x"}, "requires only 'source_labels'"),
        ({"action": "labeldrop", "regex": "x", "target_label": "y"}, "requires only 'regex'"),
        ({"action": "uppercase", "target_label": "a", "replacement": "b"}, "'replacement' can not be set"),
        ({"action": "labelmap", "replacement": "-${1}"}, "invalid 'replacement'"),
        ({"action": "rewrite"}, "unknown relabel action"),
        ({"target_label": "a", "regex": "("}, "does not compile"),
    ],
)
def test_invalid_rules_are_located(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(ScrapeConfigError, match=r"relabel_configs\[0\]: .*" + re.escape(message)):
        parse_relabel_configs([rule], "relabel_configs")
