"""One exception class per kind of failure, all under TsmonError."""

from __future__ import annotations


class TsmonError(Exception):
    """Base of every error tsmon raises on purpose; the CLI prints its message and exits non-zero."""


class EmbeddedDatabaseError(TsmonError):
    """The embedded PostgreSQL cluster could not be created, started or stopped."""


class TimescaleDBMissingError(TsmonError):
    """The database server has no usable timescaledb extension."""


class MigrationError(TsmonError):
    """A migration could not be applied."""


class MigrationChecksumError(MigrationError):
    """An already-applied migration file was edited or removed (migrations are append-only)."""


class InputFileError(TsmonError):
    """A file given to `tsmon ingest` cannot be read at all (missing, wrong header, wrong format)."""


class DatabaseUnavailableError(TsmonError):
    """The database cannot take the request right now (down, overloaded); a retry may succeed."""


class BodyTooLargeError(TsmonError):
    """A request body or file part is over TSMON_LIMIT_BODY_BYTES once decompressed (HTTP 413)."""
