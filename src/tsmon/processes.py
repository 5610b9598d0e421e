"""Background processes of `tsmon up`: start, wait until ready, stop; pid, log and env files."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import psutil

from tsmon.errors import TsmonError

READY_TIMEOUT_S = 90.0
TAIL_LINES = 15


class ProcessStartError(TsmonError):
    """A background tsmon process died, or did not become ready, right after it was started."""


@dataclass
class Started:
    """A process `tsmon up` started (or found running), and where its log of this start begins."""

    name: str
    pid: int
    log: Path
    log_offset: int
    proc: subprocess.Popen[bytes] | None  # None: it was already running


def _pid_file(home: Path, name: str) -> Path:
    return home / "pids" / f"{name}.pid"


def _env_file(home: Path, name: str) -> Path:
    return home / "pids" / f"{name}.env.json"


def _open_no_follow(path: Path, flags: int) -> int:
    """Open for writing without following a symlink planted in its place (O_NOFOLLOW), mode 0600."""
    try:
        return os.open(path, flags | os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        if path.is_symlink():
            raise ProcessStartError(
                f"{path} is a symbolic link; remove it (tsmon never follows one)"
            ) from exc
        raise


def _write_file(path: Path, text: str) -> None:
    fd = _open_no_follow(path, os.O_TRUNC)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def is_tsmon(pid: int, name: str) -> bool:
    """Whether ``pid`` is a `tsmon serve` / `tsmon worker` process: a pid file may be stale (the pid
    reused by another program) or forged, and nothing else is ever signalled."""
    try:
        cmdline = psutil.Process(pid).cmdline()
    except psutil.Error:
        return False
    wanted = {"api": "serve", "worker": "worker"}.get(name, name)
    return "tsmon" in " ".join(cmdline) and wanted in cmdline


def log_file(home: Path, name: str) -> Path:
    return home / "log" / f"{name}.log"


def running_pid(home: Path, name: str) -> int | None:
    """The pid of a live process started by `tsmon up`, or None (stale pid files are removed)."""
    path = _pid_file(home, name)
    try:
        if path.is_symlink():
            raise ValueError("a symlink is never a pid file of ours")
        pid = int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        path.unlink(missing_ok=True)
        return None
    if not is_tsmon(pid, name):
        path.unlink(missing_ok=True)
        return None
    return pid


def uptime_seconds(pid: int) -> float | None:
    try:
        return max(0.0, time.time() - psutil.Process(pid).create_time())
    except psutil.Error:
        return None


def env_fingerprint(env: Mapping[str, str]) -> dict[str, str]:
    """TSMON_* variables by name -> a digest of the value (secrets never reach the disk)."""
    return {
        k: hashlib.sha256(v.encode()).hexdigest()[:16]
        for k, v in sorted(env.items())
        if k.startswith("TSMON_")
    }


def changed_env(home: Path, name: str, env: Mapping[str, str]) -> list[str]:
    """Names of TSMON_* variables that differ from the environment ``name`` was started with."""
    try:
        before: dict[str, str] = json.loads(_env_file(home, name).read_text())
    except (FileNotFoundError, ValueError):
        return []
    now = env_fingerprint(env)
    return sorted(k for k in before.keys() | now.keys() if before.get(k) != now.get(k))


def log_tail(started: Started, lines: int = TAIL_LINES) -> str:
    """The last lines this start wrote to its log."""
    with started.log.open("rb") as f:
        f.seek(started.log_offset)
        text = f.read().decode(errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def start_detached(home: Path, name: str, args: list[str], env: Mapping[str, str]) -> Started:
    """Start `tsmon <args>` in its own session, logging to TSMON_HOME/log/<name>.log (or find it running)."""
    log = log_file(home, name)
    pid = running_pid(home, name)
    if pid is not None:
        return Started(name, pid, log, log.stat().st_size if log.exists() else 0, None)
    log.parent.mkdir(parents=True, exist_ok=True)
    _pid_file(home, name).parent.mkdir(parents=True, exist_ok=True)
    offset = log.stat().st_size if log.exists() else 0
    with os.fdopen(_open_no_follow(log, os.O_APPEND), "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tsmon", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=dict(env),
        )
    _write_file(_pid_file(home, name), str(proc.pid))
    _write_file(_env_file(home, name), json.dumps(env_fingerprint(env)))
    return Started(name, proc.pid, log, offset, proc)


def wait_ready(
    home: Path, started: Started, ready: Callable[[], bool], timeout: float = READY_TIMEOUT_S
) -> None:
    """Return once ``ready()`` holds; if the process dies or times out first, raise with its log's tail."""
    deadline = time.monotonic() + timeout
    while True:
        code = started.proc.poll() if started.proc is not None else None
        if code is None and started.proc is None and running_pid(home, started.name) is None:
            code = -1
        if code is not None:
            _pid_file(home, started.name).unlink(missing_ok=True)
            raise ProcessStartError(
                f"{started.name} exited with code {code} while starting; last lines of {started.log}:\n"
                f"{log_tail(started)}"
            )
        if ready():
            return
        if time.monotonic() > deadline:
            stop(home, started.name)
            raise ProcessStartError(
                f"{started.name} was not ready after {timeout:.0f} s and was stopped; last lines of "
                f"{started.log}:\n{log_tail(started)}"
            )
        time.sleep(0.2)


def stop(home: Path, name: str, timeout: float = 10.0) -> bool:
    """SIGTERM, then SIGKILL after ``timeout``; False when it was not running."""
    pid = running_pid(home, name)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
    _pid_file(home, name).unlink(missing_ok=True)
    return True


def _alive(pid: int) -> bool:
    try:
        # A child of this process that exited is a zombie until reaped: not alive.
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
