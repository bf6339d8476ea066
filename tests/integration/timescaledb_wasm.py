"""A real TimescaleDB for proving the TimescaleDB layer where no native build is reachable.

``tests/timescaledb-wasm`` pins PGlite built with TimescaleDB (WebAssembly) and its Postgres wire-protocol
socket in a lockfile; ``npm ci`` installs them. The server takes one connection at a time and runs no
background workers, so policies are run with ``CALL run_job(id)``. Use it for behaviour, not for speed.
"""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tickflow.processes import StackError, port_open, wait_until
from tickflow.runtime.config import PROJECT_ROOT

TOOL_DIR = PROJECT_ROOT / "tests" / "timescaledb-wasm"


def install() -> None:
    """``npm ci`` from the lockfile unless node_modules already matches it."""
    marker = TOOL_DIR / "node_modules" / ".package-lock.json"
    if marker.exists() and marker.stat().st_mtime >= (TOOL_DIR / "package-lock.json").stat().st_mtime:
        return
    npm = shutil.which("npm")
    if not npm:
        raise StackError("npm not found on PATH (apt-get install npm): needed for the TimescaleDB (WASM) server")
    out = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=TOOL_DIR, capture_output=True, text=True)
    if out.returncode != 0:
        raise StackError(f"npm ci in {TOOL_DIR} failed: {(out.stderr.strip().splitlines() or ['?'])[-1]}")


@dataclass
class TimescaleServer:
    """A running server; ``dsn`` connects to it (user and password ``postgres``)."""

    process: subprocess.Popen
    host: str
    port: int

    @property
    def dsn(self) -> str:
        return (f"host={self.host} port={self.port} dbname=postgres user=postgres password=postgres "
                "sslmode=disable")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start(port: int, log: Path, host: str = "127.0.0.1", data_dir: Path | None = None) -> TimescaleServer:
    """Install if needed and start a server (in memory unless ``data_dir``); returns once it accepts."""
    install()
    if port_open(host, port):
        raise StackError(f"port {port} is already in use: cannot start the TimescaleDB (WASM) server")
    node = shutil.which("node")
    if not node:
        raise StackError("node not found on PATH: needed for the TimescaleDB (WASM) server")
    args = [node, str(TOOL_DIR / "serve.mjs"), "--port", str(port), "--host", host]
    if data_dir:
        args += ["--data", str(data_dir)]
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        proc = subprocess.Popen(args, cwd=TOOL_DIR, stdout=out, stderr=subprocess.STDOUT)
    server = TimescaleServer(proc, host, port)
    try:
        wait_until(lambda: proc.poll() is None and "ready" in log.read_text(), 120,
                   "the TimescaleDB (WASM) server to accept connections")
    except Exception:
        server.stop()
        raise StackError(f"the TimescaleDB (WASM) server did not start: {log.read_text()[-300:]}") from None
    return server
