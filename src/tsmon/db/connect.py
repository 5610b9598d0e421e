"""Resolve which database tsmon talks to: TSMON_DATABASE_URL, else the embedded cluster started on demand."""

from __future__ import annotations

import psycopg
from psycopg.rows import TupleRow

from tsmon.db.embedded import EmbeddedCluster
from tsmon.settings import Settings

# The one connection type of tsmon: rows are tuples unless a cursor asks for typed rows (class_row).
Conn = psycopg.Connection[TupleRow]


def embedded_cluster(settings: Settings) -> EmbeddedCluster:
    return EmbeddedCluster(settings.home, bindir=settings.pg_bindir, os_user=settings.db_os_user)


def database_url(settings: Settings, start: bool = True) -> str:
    """The URL to use; with no TSMON_DATABASE_URL the embedded cluster is started if needed."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    cluster = embedded_cluster(settings)
    if start:
        cluster.start()
    return cluster.url()


def connect(settings: Settings, autocommit: bool = False) -> Conn:
    return psycopg.connect(database_url(settings), autocommit=autocommit, application_name="tsmon")
