"""The README stays true: its first commands, every setting documented, every CLI command listed."""

from __future__ import annotations

import re

from tests.conftest import REPO
from tsmon.cli import cli
from tsmon.settings import Settings

README = (REPO / "README.md").read_text()


def test_first_two_commands() -> None:
    commands = re.findall(r"^\s*(?:\$ )?(make \w+)", README, flags=re.MULTILINE)
    assert commands[:2] == ["make run", "make test"]


def test_every_setting_is_documented() -> None:
    for name in Settings.model_fields:
        assert f"`TSMON_{name.upper()}`" in README, f"README does not document TSMON_{name.upper()}"


def test_every_command_is_documented() -> None:
    for name in cli.commands:
        assert f"tsmon {name}" in README, f"README does not mention `tsmon {name}`"


def test_makefile_targets_exist() -> None:
    makefile = (REPO / "Makefile").read_text()
    for target in ("run", "test", "lint", "bench", "setup", "stop"):
        assert re.search(rf"^{target}:", makefile, flags=re.MULTILINE), f"Makefile lacks `{target}`"
