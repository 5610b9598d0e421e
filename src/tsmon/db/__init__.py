"""Database access, the bottom layer: the connection type, transient errors, embedded cluster, migrations."""

from tsmon.db.connect import Conn, connect, database_url, embedded_cluster
from tsmon.db.transient import TRANSIENT_ERRORS, is_transient

__all__ = ["TRANSIENT_ERRORS", "Conn", "connect", "database_url", "embedded_cluster", "is_transient"]
