"""The integration tests drive tickflow as a user does: through its command line, in a subprocess."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import uuid
from contextlib import contextmanager


def cli(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """``tickflow ARGS`` with this interpreter; output captured as text."""
    return subprocess.run([sys.executable, "-m", "tickflow.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


def run_job(job: str, *args: str, timeout: float = 900) -> None:
    """``tickflow run JOB --bounded`` with a fresh consumer group (reads its topics from the start)."""
    r = cli("run", job, "--bounded", "--group-id", f"test-{uuid.uuid4().hex[:8]}", *args, timeout=timeout)
    assert r.returncode == 0, r.stderr[-3000:]


@contextmanager
def unbounded_job(job: str, *args: str):
    """``tickflow run JOB`` (unbounded, fresh consumer group) in its own process group while the block runs;
    the job and its PyFlink gateway JVM are stopped afterwards. When the block fails, the job's last
    output is printed (pytest shows it beside the failure)."""
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen([sys.executable, "-m", "tickflow.cli", "run", job, "--group-id",
                                 f"test-{uuid.uuid4().hex[:8]}", *args], stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            yield proc
        except BaseException:
            log.seek(0)
            print(f"--- last output of tickflow run {job} ---\n" + log.read()[-4000:].decode(errors="replace"))
            raise
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)
