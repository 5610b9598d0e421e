"""`tsmon grafana build [--check]`, `tsmon grafana layout`: generated dashboards and alerting provisioning."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tsmon.cli import cli


@cli.group("grafana")
def grafana_group() -> None:
    """Grafana dashboards and alert rules generated from code (src/tsmon/grafana)."""


@grafana_group.command("build")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if a committed file differs.")
@click.option(
    "--dir",
    "root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("grafana"),
    show_default=True,
    help="The grafana/ folder of the repository.",
)
def grafana_build(check: bool, root: Path) -> None:
    """Write grafana/dashboards/*.json and the dashboard and alerting provisioning files."""
    from tsmon.grafana.build import render, stale_files, write

    files = render()
    if check:
        stale = stale_files(root, files)
        for path in stale:
            click.echo(f"out of date: {root / path}", err=True)
        if stale:
            click.echo("run `tsmon grafana build` and commit the result", err=True)
            sys.exit(1)
        click.echo(f"{len(files)} generated files up to date in {root}")
        return
    for path in write(root, files):
        click.echo(f"wrote {root / path.split(' ')[0]}")
    click.echo(f"{len(files)} generated files in {root}")


@grafana_group.command("layout")
def grafana_layout() -> None:
    """Print each dashboard's panel layout as an ASCII picture."""
    from tsmon.grafana.build import dashboard_json
    from tsmon.grafana.layout import picture

    click.echo("\n\n".join(picture(d) for d in dashboard_json().values()))
