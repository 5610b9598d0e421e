"""The `tsmon` command line: one click group; each concern's commands live in their own module."""

from __future__ import annotations

import sys

import click

from tsmon.errors import TsmonError
from tsmon.settings import Settings


class _Group(click.Group):
    """Print TsmonError messages plainly (no traceback) and exit 2: they are the user's to fix."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except TsmonError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Group)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """tsmon: metrics into TimescaleDB, windows, anomaly detection written back to SQL, Grafana."""
    ctx.obj = Settings()


def main() -> None:
    cli()


# Registered after `cli` exists: each module adds its commands to it.
from tsmon.cli import (  # noqa: E402
    analyze,
    database,
    demo,
    detection,
    evaluate,
    forecast_eval,
    grafana,
    ingest,
    processes,
    stack,
    windows,
)

__all__ = [
    "analyze",
    "cli",
    "database",
    "demo",
    "detection",
    "evaluate",
    "forecast_eval",
    "grafana",
    "ingest",
    "main",
    "processes",
    "stack",
    "windows",
]
