"""The embedded database: a local PostgreSQL + TimescaleDB cluster that tsmon creates, starts and stops."""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tsmon.db._host import find_pg_bindir, free_port, port_in_use, reachable_by_others
from tsmon.errors import EmbeddedDatabaseError

DB_NAME = "tsmon"
DB_USER = "tsmon"
# Unix socket paths are limited to ~107 bytes; leave room for "/.s.PGSQL.NNNNN".
_MAX_SOCKET_DIR = 80

BASE_CONF = {
    "listen_addresses": "'127.0.0.1'",
    "shared_preload_libraries": "'timescaledb'",
    "timescaledb.telemetry_level": "off",
    "max_connections": "100",
    "shared_buffers": "'256MB'",
    "log_min_messages": "warning",
}


@dataclass(frozen=True)
class ClusterState:
    """What `tsmon db` remembers about the cluster between invocations (stored as JSON in TSMON_HOME)."""

    datadir: str
    socketdir: str
    port: int
    password: str


class EmbeddedCluster:
    """A PostgreSQL cluster under ``home``, with timescaledb preloaded, owned by an unprivileged user."""

    def __init__(
        self,
        home: Path,
        bindir: Path | None = None,
        os_user: str = "postgres",
        extra_conf: dict[str, str] | None = None,
    ) -> None:
        self.home = home.absolute()
        self.bindir = find_pg_bindir(bindir)
        self.extra_conf = extra_conf or {}
        self._run_as: str | None = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(os_user)
            except KeyError as exc:
                raise EmbeddedDatabaseError(
                    f"running as root, but OS user {os_user!r} (TSMON_DB_OS_USER) does not exist; "
                    "PostgreSQL refuses to run as root"
                ) from exc
            self._run_as = os_user

    # -- paths and state -----------------------------------------------------------------------
    @property
    def state_file(self) -> Path:
        return self.home / "db.json"

    @property
    def log_file(self) -> Path:
        # Its own directory, the only one under TSMON_HOME the server's user may write (with the
        # data and socket directories): TSMON_HOME, tsmon's logs and pid files stay the caller's.
        return self.home / "pglog" / "postgresql.log"

    def state(self) -> ClusterState | None:
        if not self.state_file.exists():
            return None
        return ClusterState(**json.loads(self.state_file.read_text()))

    def _write_state(self, state: ClusterState) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.touch(mode=0o600)
        tmp.write_text(json.dumps(state.__dict__, indent=2))
        tmp.replace(self.state_file)

    def _choose_dirs(self) -> tuple[Path, Path]:
        digest = hashlib.sha256(str(self.home).encode()).hexdigest()[:12]
        datadir = self.home / "pgdata"
        if self._run_as and not reachable_by_others(self.home.parent):
            # e.g. a clone under /root: the server's user cannot reach it, so keep the data elsewhere.
            datadir = Path("/var/lib/tsmon") / digest / "pgdata"
        socketdir = self.home / "pgsocket"
        if len(str(socketdir)) > _MAX_SOCKET_DIR or (self._run_as and not reachable_by_others(self.home)):
            socketdir = Path(tempfile.gettempdir()) / f"tsmon-{digest}"
        return datadir, socketdir

    def secure_home(self) -> None:
        """TSMON_HOME and tsmon's own directories belong to whoever runs tsmon, never to the server's
        user: that user could otherwise plant a symlinked log (root appends to any file) or a forged
        pid file (root signals any process). Earlier versions chowned them; take them back."""
        if self._run_as is None:
            return
        me = os.geteuid()
        for d in (self.home, self.home / "log", self.home / "pids"):
            if d.exists() and not d.is_symlink() and d.stat().st_uid != me:
                os.chown(d, me, os.getegid())
                d.chmod(0o755)

    # -- process helpers -----------------------------------------------------------------------
    def _chown(self, *paths: Path) -> None:
        if self._run_as:
            for p in paths:
                shutil.chown(p, user=self._run_as, group=self._run_as)

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            list(args), capture_output=True, text=True, check=False, user=self._run_as, cwd="/"
        )
        if check and proc.returncode != 0:
            raise EmbeddedDatabaseError(
                f"{Path(args[0]).name} failed: {(proc.stderr or proc.stdout).strip()}"
            )
        return proc

    # -- lifecycle -----------------------------------------------------------------------------
    def initialized(self) -> bool:
        state = self.state()
        return state is not None and (Path(state.datadir) / "PG_VERSION").exists()

    def init(self) -> ClusterState:
        """Create the cluster (initdb) once; later calls return the existing state."""
        if self.initialized():
            state = self.state()
            assert state is not None
            return state
        datadir, socketdir = self._choose_dirs()
        for d in (self.home, self.log_file.parent, datadir.parent, socketdir):
            d.mkdir(parents=True, exist_ok=True)
        self.secure_home()
        if datadir.exists():
            shutil.rmtree(datadir)  # a half-made cluster from an interrupted init
        datadir.mkdir(mode=0o700)
        self._chown(self.log_file.parent, datadir, socketdir)
        password = secrets.token_urlsafe(24)
        private = Path(tempfile.mkdtemp(prefix="tsmon-initdb-"))  # 0700, then the server user's
        self._chown(private)
        pwfile = private / "pwfile"
        pwfile.write_text(password + "\n")
        self._chown(pwfile)
        try:
            self._run(
                str(self.bindir / "initdb"),
                "-D",
                str(datadir),
                "-U",
                DB_USER,
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            )
        finally:
            shutil.rmtree(private, ignore_errors=True)
        state = ClusterState(str(datadir), str(socketdir), free_port(), password)
        self._write_conf(state)
        self._write_state(state)
        return state

    def _write_conf(self, state: ClusterState) -> None:
        conf = {**BASE_CONF, "port": str(state.port), "unix_socket_directories": f"'{state.socketdir}'"}
        conf.update(self.extra_conf)
        body = "# written by tsmon; edits are overwritten on start\n"
        body += "".join(f"{k} = {v}\n" for k, v in conf.items())
        datadir = Path(state.datadir)
        (datadir / "tsmon.conf").write_text(body)
        self._chown(datadir / "tsmon.conf")
        main_conf = datadir / "postgresql.conf"
        text = main_conf.read_text()
        if "include_if_exists = 'tsmon.conf'" not in text:
            main_conf.write_text(text + "\ninclude_if_exists = 'tsmon.conf'\n")

    def running(self) -> bool:
        state = self.state()
        if state is None or not Path(state.datadir).exists():
            return False
        return (
            self._run(str(self.bindir / "pg_ctl"), "status", "-D", state.datadir, check=False).returncode == 0
        )

    def start(self) -> ClusterState:
        """Initialise if needed and start the server; a no-op when it already runs."""
        state = self.init()
        self.secure_home()
        if self.running():
            return state
        if port_in_use(state.port):
            state = ClusterState(state.datadir, state.socketdir, free_port(), state.password)
            self._write_state(state)
        Path(state.socketdir).mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self._chown(Path(state.socketdir), self.log_file.parent)
        self._write_conf(state)
        proc = self._run(
            str(self.bindir / "pg_ctl"),
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            state.datadir,
            "-l",
            str(self.log_file),
            check=False,
        )
        if proc.returncode != 0:
            tail = self.log_file.read_text().splitlines()[-15:] if self.log_file.exists() else []
            raise EmbeddedDatabaseError(
                "the embedded PostgreSQL did not start:\n" + "\n".join(tail or [proc.stderr.strip()])
            )
        self._ensure_database(state)
        return state

    def _ensure_database(self, state: ClusterState) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.url(state, dbname="postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB_NAME)))
            # tsmon's logins (the reader above all) connect to tsmon's database only; `tsmon
            # migrate` grants them CONNECT there.
            for other in ("postgres", "template1", DB_NAME):
                conn.execute(
                    sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(sql.Identifier(other))
                )

    def stop(self) -> bool:
        """Stop the server; returns False when it was not running."""
        state = self.state()
        if state is None or not self.running():
            return False
        self._run(str(self.bindir / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", state.datadir)
        return True

    def destroy(self) -> None:
        """Stop the server and delete its data (tests' throwaway clusters)."""
        state = self.state()
        self.stop()
        if state is not None:
            shutil.rmtree(state.datadir, ignore_errors=True)
            shutil.rmtree(state.socketdir, ignore_errors=True)
        shutil.rmtree(self.home, ignore_errors=True)

    def url(self, state: ClusterState | None = None, dbname: str = DB_NAME) -> str:
        state = state or self.state()
        if state is None:
            raise EmbeddedDatabaseError("the embedded cluster is not initialised; run `tsmon db start`")
        return f"postgresql://{DB_USER}:{state.password}@127.0.0.1:{state.port}/{dbname}"
