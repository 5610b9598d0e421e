"""Detection config files: every invalid value is a located error at apply time, never a traceback later."""

from __future__ import annotations

import pytest

from tsmon.scoring.config_file import DetectionConfigError, load_document, validate

BASE = {"name": "web", "metric": "node_load1"}


@pytest.mark.parametrize(
    ("extra", "where"),
    [
        ({"shards": 0}, r"configs\[0\] \(web\)\.shards: 0 must be a whole number from 1 to 1024"),
        ({"shards": True}, r"\.shards: True"),
        ({"critical_score": 2}, r"\.critical_score: 2 must be a number above 0 and at most 1"),
        ({"sensitivity": 1.0}, r"\.sensitivity: 1\.0 must be a number above 0 and below 1"),
        ({"sensitivity": float("nan")}, r"\.sensitivity: nan"),
        ({"enabled": "maybe"}, r"\.enabled: 'maybe' must be true or false"),
        ({"name": "has space"}, r"configs\[0\]\.name: a name of letters"),
        ({"name": "x" * 201}, r"configs\[0\]\.name"),
        ({"training_window": "0s"}, r"\.training_window: '0s' must be longer than 0"),
        ({"schedule": "0m"}, r"\.schedule: '0m' must be longer than 0"),
        ({"retrain_every": "999999999w"}, r"\.retrain_every: '999999999w' is longer than 3650 days"),
        ({"min_duration": "soon"}, r"\.min_duration: 'soon' is not a duration"),
        ({"resolution": "5m"}, r"\.resolution: must be 1m or 1h"),
        ({"detector": "magic"}, r"\.detector: must be one of"),
        ({"params": {"no_such_param": 1}}, r"\.params: onset does not accept \{'no_such_param': 1\}"),
        ({"detector": "ewma", "params": {"alpha": "high"}}, r"\.params: ewma does not accept"),
        ({"params": [1, 2]}, r"\.params: must be a mapping"),
        (
            {"matchers": [{"label": "host", "op": "=", "value": 5}]},
            r"\.matchers\[0\]\.value: must be a string",
        ),
        ({"matchers": [{"label": "host", "op": "=", "value": ["a"]}]}, r"\.matchers\[0\]\.value"),
        ({"matchers": [{"label": "host", "op": "~", "value": "a"}]}, r"\.matchers\[0\]: label must be"),
        ({"matchers": "host=a"}, r"\.matchers: must be a list"),
        ({"alert_labels": {"team": 1}}, r"\.alert_labels: must map label names to string values"),
        ({"threshold_raise": 0.5}, r"unknown keys \['threshold_raise'\]"),
    ],
)
def test_invalid_values_are_located(extra: dict[str, object], where: str) -> None:
    with pytest.raises(DetectionConfigError, match=where):
        validate({**BASE, **extra}, "configs[0]")


def test_a_config_that_is_not_a_mapping() -> None:
    with pytest.raises(DetectionConfigError, match=r"configs\[0\]: expected a mapping"):
        validate(1, "configs[0]")


def test_defaults_and_good_values_pass() -> None:
    out = validate({**BASE, "training_window": "14d", "min_duration": "0s", "shards": 16}, "configs[0]")
    assert out["training_window"].days == 14 and out["min_duration"].total_seconds() == 0


def test_python_tags_are_refused() -> None:
    with pytest.raises(DetectionConfigError, match="not valid YAML"):
        load_document("configs: [!!python/object/apply:os.system ['true']]")


def test_an_alias_bomb_is_refused() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8)
    )
    assert len(bomb) < 1000
    with pytest.raises(DetectionConfigError, match="expands to more than"):
        load_document(bomb + "configs: []\n")


def test_anchors_within_reason_are_fine() -> None:
    text = "base: &b {metric: m, detector: mad}\nconfigs: [{<<: *b, name: one}, {<<: *b, name: two}]\n"
    assert [validate(c, f"configs[{i}]")["name"] for i, c in enumerate(load_document(text))] == ["one", "two"]


@pytest.mark.parametrize("text", ["configs: 1", "[]", "configs: {a: 1}", ""])
def test_documents_without_a_configs_list(text: str) -> None:
    with pytest.raises(DetectionConfigError, match="a list under `configs`"):
        load_document(text)
