"""The integration tests drive tickflow as a user does: through its command line, in a subprocess."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path

from tickflow.processes import StackError, wait_until
from tickflow.runtime.config import Settings

# The product's source idle timeout, for a job that starts on a backlog spread over every partition: the
# quick tests' 5 s would mark a partition idle while its reader is still starting, and the others' event
# time would then make its trades late.
PRODUCT_IDLENESS = {"TICKFLOW_SOURCE_IDLE_TIMEOUT_MS": str(Settings.source_idle_timeout_ms)}


def cli(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """``tickflow ARGS`` with this interpreter; output captured as text."""
    return subprocess.run([sys.executable, "-m", "tickflow.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


def run_job(job: str, *args: str, timeout: float = 900) -> None:
    """``tickflow run JOB --bounded`` with a fresh consumer group (reads its topics from the start)."""
    r = cli("run", job, "--bounded", "--group-id", f"test-{uuid.uuid4().hex[:8]}", *args, timeout=timeout)
    assert r.returncode == 0, r.stderr[-3000:]


@contextmanager
def unbounded_job(job: str, *args: str, group_id: str | None = None, env: dict[str, str] | None = None):
    """``tickflow run JOB`` (unbounded, a fresh consumer group unless ``group_id``, the environment updated by
    ``env``) in its own process group while the block runs; the job and its PyFlink gateway JVM are stopped
    afterwards. When the block fails, the job's last output is printed (pytest shows it beside the failure)."""
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen([sys.executable, "-m", "tickflow.cli", "run", job, "--group-id",
                                 group_id or f"test-{uuid.uuid4().hex[:8]}", *args], stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, **(env or {})})
        try:
            yield proc
        except BaseException:
            log.seek(0)
            print(f"--- last output of tickflow run {job} ---\n" + log.read()[-4000:].decode(errors="replace"))
            raise
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)
            _wait_for_group_exit(proc.pid)


def _wait_for_group_exit(pgid: int, grace_s: float = 30.0) -> None:
    """Wait until every process of the group is gone (the PyFlink gateway JVM outlives the CLI by its
    shutdown; while it lives its Kafka sinks may still write), SIGKILL after ``grace_s``."""
    def alive() -> bool:  # a member that is not a zombie (an exited child nobody has reaped yet)
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
        return False

    try:
        wait_until(lambda: not alive(), grace_s, "the job's processes to exit", interval=0.2)
    except StackError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        wait_until(lambda: not alive(), 30, "the job's processes to be killed", interval=0.2)
