"""Starting, finding and stopping the local stack's processes by PID file.

A service is ours only if its PID file exists *and* that PID's command line still contains the marker we
started it with, so a recycled PID never gets a signal from ``down``.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tickflow.runtime.errors import StackError


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie still answers kill(0); treat it as gone
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return True


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            local, state, inode = parts[1], parts[3], parts[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    return inodes


def port_owner(port: int) -> str:
    """Describe the process listening on ``port`` ("pid 123 (java …)"), or "an unknown process"."""
    inodes = _listening_inodes(port)
    if inodes:
        targets = {f"socket:[{i}]" for i in inodes}
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                for fd in (proc / "fd").iterdir():
                    if os.readlink(fd) in targets:
                        cmd = cmdline(int(proc.name)).strip()
                        return f"pid {proc.name} ({cmd[:80]})"
            except OSError:
                continue
    return "an unknown process"


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.25) -> None:
    """Poll ``check`` until it is true; raise StackError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except Exception:  # a health check that raises is simply "not yet"
            pass
        if time.monotonic() > deadline:
            raise StackError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


@dataclass
class ManagedProcess:
    """One long-running process of the stack, tracked by a PID file."""

    name: str
    pid_file: Path
    log_file: Path
    marker: str  # a string that must appear in the process's command line

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        if alive(pid) and self.marker in cmdline(pid):
            return pid
        return None

    def start(self, argv: list[str], env: dict[str, str] | None = None, user: str | None = None,
              cwd: Path | None = None) -> int:
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=env, user=user, cwd=cwd, start_new_session=True)
        self.pid_file.write_text(f"{proc.pid}\n")
        return proc.pid

    def exited_early(self) -> str | None:
        """If the process we just started died, the tail of its log (for the error message)."""
        if self.pid() is not None:
            return None
        try:
            tail = self.log_file.read_text(errors="replace").strip().splitlines()[-3:]
        except OSError:
            tail = []
        return " | ".join(line.strip() for line in tail) or "no output"

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> bool:
        """Signal the process and wait for it to exit; SIGKILL after ``timeout``. False if not running."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
            while alive(pid):
                time.sleep(0.05)
        self.pid_file.unlink(missing_ok=True)
        return True
