"""The integration tests drive tickflow as a user does: through its command line, in a subprocess."""
from __future__ import annotations

import subprocess
import sys
import uuid


def cli(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """``tickflow ARGS`` with this interpreter; output captured as text."""
    return subprocess.run([sys.executable, "-m", "tickflow.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


def run_job(job: str, *args: str, timeout: float = 900) -> None:
    """``tickflow run JOB --bounded`` with a fresh consumer group (reads its topics from the start)."""
    r = cli("run", job, "--bounded", "--group-id", f"test-{uuid.uuid4().hex[:8]}", *args, timeout=timeout)
    assert r.returncode == 0, r.stderr[-3000:]
