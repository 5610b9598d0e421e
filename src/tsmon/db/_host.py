"""Facts about this host the embedded cluster needs: server binaries, free ports, directory access."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

from tsmon.errors import EmbeddedDatabaseError


def find_pg_bindir(configured: Path | None = None) -> Path:
    """Directory holding initdb/pg_ctl/postgres: the configured one, else the newest Debian-layout install."""
    if configured is not None:
        candidates = [configured]
    else:
        root = Path("/usr/lib/postgresql")
        versions = sorted((p for p in root.glob("*") if p.name.isdigit()), key=lambda p: int(p.name))
        candidates = [v / "bin" for v in reversed(versions)]
        pg_config = shutil.which("pg_config")
        if pg_config:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
            candidates.append(Path(out.stdout.strip()))
    for bindir in candidates:
        if (bindir / "postgres").exists() and (bindir / "initdb").exists():
            return bindir
    raise EmbeddedDatabaseError(
        "no PostgreSQL server binaries found (looked in /usr/lib/postgresql/*/bin and pg_config --bindir); "
        "run scripts/provision-db or set TSMON_PG_BINDIR"
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def reachable_by_others(path: Path) -> bool:
    """True when every existing ancestor lets 'other' users traverse it (the server's OS user needs that)."""
    return all(os.stat(p).st_mode & 0o001 for p in [path, *path.parents] if p.exists())
