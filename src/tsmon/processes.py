"""Background processes for `tsmon up` / `tsmon down`: pid files and logs under TSMON_HOME."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tsmon.errors import TsmonError


class ProcessStartError(TsmonError):
    """A background tsmon process exited right after it was started."""


def _pid_file(home: Path, name: str) -> Path:
    return home / "run" / f"{name}.pid"


def log_file(home: Path, name: str) -> Path:
    return home / "log" / f"{name}.log"


def running_pid(home: Path, name: str) -> int | None:
    """The pid of a live process started by `tsmon up`, or None (stale pid files are removed)."""
    path = _pid_file(home, name)
    try:
        pid = int(path.read_text().strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        path.unlink(missing_ok=True)
        return None
    except PermissionError:  # alive, owned by someone else
        return pid
    return pid


def start_detached(home: Path, name: str, args: list[str], env: dict[str, str]) -> int:
    """Start `tsmon <args>` in its own session, logging to TSMON_HOME/log/<name>.log."""
    pid = running_pid(home, name)
    if pid is not None:
        return pid
    log = log_file(home, name)
    log.parent.mkdir(parents=True, exist_ok=True)
    _pid_file(home, name).parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tsmon", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
        )
    _pid_file(home, name).write_text(str(proc.pid))
    time.sleep(1.0)
    if proc.poll() is not None:
        _pid_file(home, name).unlink(missing_ok=True)
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-10:])
        raise ProcessStartError(f"tsmon {' '.join(args)} exited with {proc.returncode}; see {log}:\n{tail}")
    return proc.pid


def stop(home: Path, name: str, timeout: float = 10.0) -> bool:
    """SIGTERM, then SIGKILL after ``timeout``; False when it was not running."""
    pid = running_pid(home, name)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
    _pid_file(home, name).unlink(missing_ok=True)
    return True
