"""Which database failures a retry can cure (the sender gets 503 + Retry-After), and which it cannot."""

from __future__ import annotations

import psycopg
from psycopg_pool import PoolTimeout

# Failures a retry can cure: the sender gets 503 + Retry-After, never a 4xx that drops data.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    PoolTimeout,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    psycopg.errors.SerializationFailure,
    psycopg.errors.DeadlockDetected,
)


def is_transient(exc: BaseException) -> bool:
    """True for an error a retry of the same work may not hit (down, overloaded, serialisation)."""
    return isinstance(exc, TRANSIENT_ERRORS)
