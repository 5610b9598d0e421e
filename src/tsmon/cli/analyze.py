"""`tsmon analyze ...`: the analyses (describe, compare, groups, correlate, changes, explain)."""

from __future__ import annotations

from tsmon.cli import cli


@cli.group()
def analyze() -> None:
    """Analyse stored metrics: each command prints a table, or with --json one JSON object last."""


# Registers the analyses' commands and `tsmon analyze changes`.
from tsmon.cli import analyze_changes, analyze_commands  # noqa: E402, F401
