"""Pid and log files under TSMON_HOME: never followed through a symlink, never trusted blindly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tsmon import processes


def test_a_forged_pid_file_never_gets_another_process_signalled(tmp_path: Path) -> None:
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "pids").mkdir()
        (tmp_path / "pids" / "api.pid").write_text(str(victim.pid))  # what another user could write
        assert processes.running_pid(tmp_path, "api") is None
        assert processes.stop(tmp_path, "api") is False
        assert victim.poll() is None, "a process that is not tsmon's was signalled"
    finally:
        victim.kill()
        victim.wait()


def test_a_symlinked_log_or_pid_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("precious\n")
    (tmp_path / "log").mkdir()
    os.symlink(target, tmp_path / "log" / "api.log")
    with pytest.raises(processes.ProcessStartError, match="symbolic link"):
        processes.start_detached(tmp_path, "api", ["--help"], dict(os.environ))
    assert target.read_text() == "precious\n"
    (tmp_path / "log" / "api.log").unlink()
    (tmp_path / "pids").mkdir(exist_ok=True)
    os.symlink(target, tmp_path / "pids" / "api.pid")
    assert processes.running_pid(tmp_path, "api") is None  # not read through the link: removed
    assert not (tmp_path / "pids" / "api.pid").exists() and target.read_text() == "precious\n"
