"""`tsmon demo [--once]`: the demo workload on its own (docker compose's `demo` profile)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import click

from tsmon.cli import cli
from tsmon.db.connect import connect
from tsmon.settings import Settings

FEED_INTERVAL_S = 15  # as often as the worker feeds it (tsmon.worker.feed_demo)


@cli.command("demo")
@click.option("--once", is_flag=True, help="Backfill and apply the demo configs, then exit.")
@click.pass_obj
def demo_cmd(settings: Settings, once: bool) -> None:
    """Backfill the demo workload once, apply its detection configs, then feed it live every 15 s.

    The same as `tsmon up` with TSMON_DEMO=true, for stacks whose worker does not feed the demo.
    """
    from tsmon.demo import DEMO_CONFIGS, feed, start
    from tsmon.scoring.configs import apply_yaml

    with connect(settings, autocommit=True) as conn:
        if start(conn, datetime.now(UTC)):
            apply_yaml(conn, DEMO_CONFIGS.read_text())
            click.echo("demo workload backfilled (3 days, five injected anomalies), configs applied")
        else:
            click.echo("demo workload already backfilled; feeding it")
        while not once:
            feed(conn, datetime.now(UTC))
            time.sleep(FEED_INTERVAL_S)
