"""The local Flink session cluster: the distribution inside the apache-flink wheel, started with its own
scripts, configured from ``flink-conf/local``, and jobs submitted to it with ``flink run -py``."""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tickflow.operator_ids import known_uids
from tickflow.processes import StackError, port_open, port_owner, wait_until
from tickflow.runtime.config import PROJECT_ROOT, Settings
from tickflow.runtime.flink_runtime import flink_home, library_jars

CONF_TEMPLATE = PROJECT_ROOT / "flink-conf" / "local" / "config.yaml"


def _paths(s: Settings) -> dict[str, Path]:
    base = s.home / "flink"
    return {"conf": base / "conf", "plugins": base / "plugins", "lib": base / "lib", "pids": s.run_dir / "flink",
            "logs": s.log_dir / "flink"}


def render_config(s: Settings) -> str:
    values = {
        "FLINK_REST_PORT": str(s.flink_rest_port), "FLINK_RPC_PORT": str(s.flink_rpc_port),
        "S3_BUCKET": s.s3_bucket, "S3_ENDPOINT": s.s3_endpoint,
        "S3_ACCESS_KEY": s.s3_access_key, "S3_SECRET_KEY": s.s3_secret_key,
        # a port for the JobManager and one for each TaskManager
        "FLINK_METRICS_PORT": str(s.flink_metrics_port),
        "FLINK_METRICS_PORT_END": str(s.flink_metrics_port + max(1, s.flink_taskmanagers)),
        "PYTHON": sys.executable, "FLINK_TASK_SLOTS": str(s.flink_task_slots),
        "JAVA_OPTS_ALL": _distribution_java_opts(),
    }
    text = CONF_TEMPLATE.read_text()
    for k, v in values.items():
        text = text.replace("${" + k + "}", v)
    left = re.findall(r"\$\{[A-Z_]+\}", text)
    if left:
        raise StackError(f"{CONF_TEMPLATE}: no value for {left[0]}")
    return text + (high_availability(s) if s.flink_ha else "")


def high_availability(s: Settings) -> str:
    """The JobManager HA section (``flink_ha``): leadership in the stack's ZooKeeper, job graphs and
    checkpoint pointers on its S3, so a new JobManager recovers the jobs of a lost one."""
    return (f"\nhigh-availability:\n  type: zookeeper\n  storageDir: s3://{s.s3_bucket}/flink/ha\n"
            f"  cluster-id: /tickflow-local\n  zookeeper:\n    quorum: {s.host}:{s.zookeeper_port}\n"
            "    path:\n      root: /flink\n")


def _distribution_java_opts() -> str:
    import yaml

    dist = yaml.safe_load((flink_home() / "conf" / "config.yaml").read_text())
    return str(dist.get("env", {}).get("java", {}).get("opts", {}).get("all", ""))


def _environment(s: Settings) -> dict[str, str]:
    p = _paths(s)
    return {**os.environ, "FLINK_CONF_DIR": str(p["conf"]), "FLINK_PLUGINS_DIR": str(p["plugins"]),
            "FLINK_PID_DIR": str(p["pids"]), "FLINK_LIB_DIR": str(p["lib"]), "FLINK_LOG_DIR": str(p["logs"]),
            "PYFLINK_CLIENT_EXECUTABLE": sys.executable, "TICKFLOW_PROJECT_ROOT": str(PROJECT_ROOT)}


def _prepare(s: Settings) -> None:
    p = _paths(s)
    for d in p.values():
        d.mkdir(parents=True, exist_ok=True)
    (p["conf"] / "config.yaml").write_text(render_config(s))
    for name in ("log4j.properties", "log4j-cli.properties", "log4j-console.properties", "log4j-session.properties"):
        shutil.copy(flink_home() / "conf" / name, p["conf"] / name)
    (p["conf"] / "masters").write_text(f"localhost:{s.flink_rest_port}\n")
    # start-cluster.sh starts a TaskManager per line of workers (all local: no ssh)
    (p["conf"] / "workers").write_text("localhost\n" * max(1, s.flink_taskmanagers))
    _prepare_lib(s)
    _prepare_plugins(s)


def _prepare_lib(s: Settings) -> None:
    """The cluster's lib/, as in the Kubernetes image: the distribution's jars, flink-python from opt/
    (Python operators need it on the cluster) and the connectors from Maven, loaded once by the cluster
    rather than into every job's class loader. Jars from an earlier gathering are removed, so two versions
    of a connector never meet; the connectors are hard links (copies across file systems), which a
    re-gathering cannot pull from under a running cluster."""
    lib = _paths(s)["lib"]
    distribution = [*(flink_home() / "lib").glob("*.jar"), *(flink_home() / "opt").glob("flink-python-*.jar")]
    links = {j.name: j for j in distribution}
    copies = {j.name: j for j in library_jars(s)}
    for present in lib.glob("*.jar"):
        if present.name not in links and present.name not in copies:
            present.unlink()
    for name, jar in links.items():
        if not (lib / name).exists():
            (lib / name).symlink_to(jar)
    for name, jar in copies.items():
        if not (lib / name).exists():
            try:
                os.link(jar, lib / name)
            except OSError:
                shutil.copy(jar, lib / name)


def _prepare_plugins(s: Settings) -> None:
    """The session cluster's plugins: the Prometheus reporter from the distribution, the S3 filesystem
    from Maven."""
    plugins = _paths(s)["plugins"]
    prom = plugins / "metrics-prometheus"
    if not prom.exists():
        shutil.copytree(flink_home() / "plugins" / "metrics-prometheus", prom)
    s3_jars = sorted((s.jars / "flink-s3").glob("flink-s3-fs-hadoop-*.jar"))
    if not s3_jars:
        raise StackError(f"no S3 plugin jar in {s.jars / 'flink-s3'}: run `make setup`")
    s3_dir = plugins / "s3-fs-hadoop"
    s3_dir.mkdir(parents=True, exist_ok=True)
    if not (s3_dir / s3_jars[0].name).exists():
        shutil.copy(s3_jars[0], s3_dir / s3_jars[0].name)


def rest(s: Settings, path: str, method: str = "GET", body: dict | None = None, timeout: float = 5.0) -> dict:
    """Call the cluster's REST API; StackError in one line when it is not there."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{s.flink_rest}{path}", data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            return json.loads(raw) if raw else {}
    except urllib.error.HTTPError as exc:
        raise StackError(f"Flink REST {method} {path}: HTTP {exc.code} {exc.read()[:200]!r}") from None
    except (urllib.error.URLError, OSError):
        raise StackError(f"no Flink cluster at {s.flink_rest} (start it with `tickflow cluster up`)") from None


def _taskmanagers(s: Settings) -> int:
    return len(rest(s, "/taskmanagers", timeout=2).get("taskmanagers", []))


def taskmanager_pids(s: Settings) -> list[int]:
    """PIDs of this cluster's live TaskManager processes (from the daemon scripts' PID file)."""
    return [p for f in _paths(s)["pids"].glob("*taskexecutor*.pid") for p in _live_pids(f)]


def _live_pids(pid_file: Path) -> list[int]:
    return [int(w) for w in pid_file.read_text().split() if w.isdigit() and Path(f"/proc/{w}").exists()]


def _daemon_pids(s: Settings) -> list[int]:
    return [p for f in _paths(s)["pids"].glob("*.pid") for p in _live_pids(f)]


def status(s: Settings) -> str:
    try:
        overview = rest(s, "/overview", timeout=2)
    except StackError:
        return "stopped"
    return (f"running: {s.flink_rest} (web UI), {overview.get('taskmanagers')} taskmanager(s), "
            f"{overview.get('slots-available')}/{overview.get('slots-total')} slots free, "
            f"{overview.get('jobs-running')} job(s) running")


def up(s: Settings) -> str:
    """Start the JobManager and one TaskManager unless our cluster is already running; a running
    JobManager that lost its TaskManager (a TaskManager exits on a fatal task error) gets a new one, as
    Kubernetes would restart the pod."""
    if _daemon_pids(s) and status(s).startswith("running"):
        if _taskmanagers(s) == 0:
            start_taskmanager(s)
            return "started a TaskManager; " + status(s)
        return "already " + status(s)
    for port in (s.flink_rest_port, s.flink_rpc_port):
        if port_open(s.host, port):
            raise StackError(f"port {port} needed by Flink is taken by {port_owner(port)}")
    _prepare(s)
    # a session of their own, so a Ctrl-C in the terminal that started them (`make demo`) stops the demo,
    # not the cluster
    out = subprocess.run([str(flink_home() / "bin" / "start-cluster.sh")], env=_environment(s),
                         capture_output=True, text=True, start_new_session=True)
    if out.returncode != 0:
        raise StackError(f"start-cluster.sh failed: {(out.stderr or out.stdout).strip().splitlines()[-1:]}")
    wanted = max(1, s.flink_taskmanagers)
    wait_until(lambda: _taskmanagers(s) >= wanted, 120, f"{wanted} Flink TaskManager(s) to register")
    return status(s)


def jobmanager_pids(s: Settings) -> list[int]:
    """PIDs of this cluster's live JobManager processes."""
    return [p for f in _paths(s)["pids"].glob("*standalonesession*.pid") for p in _live_pids(f)]


def kill_jobmanager(s: Settings) -> None:
    """SIGKILL the JobManager, as a lost pod or machine would end it (fault injection)."""
    victims = jobmanager_pids(s)
    if not victims:
        raise StackError("no JobManager process to kill")
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not jobmanager_pids(s), 30, "the JobManager to exit")


def start_jobmanager(s: Settings) -> None:
    """Start a JobManager for this cluster's configuration; with ``flink_ha`` it recovers the jobs."""
    out = subprocess.run([str(flink_home() / "bin" / "jobmanager.sh"), "start"], env=_environment(s),
                         capture_output=True, text=True, start_new_session=True)
    if out.returncode != 0:
        raise StackError(f"jobmanager.sh failed: {(out.stderr or out.stdout).strip().splitlines()[-1:]}")
    wait_until(lambda: status(s).startswith("running"), 120, "the Flink JobManager to answer")


def start_taskmanager(s: Settings) -> None:
    out = subprocess.run([str(flink_home() / "bin" / "taskmanager.sh"), "start"], env=_environment(s),
                         capture_output=True, text=True, start_new_session=True)
    if out.returncode != 0:
        raise StackError(f"taskmanager.sh failed: {(out.stderr or out.stdout).strip().splitlines()[-1:]}")
    wait_until(lambda: _taskmanagers(s) >= 1, 120, "the Flink TaskManager to register")


def down(s: Settings) -> str:
    if not _daemon_pids(s):
        return "Flink cluster was not running"
    subprocess.run([str(flink_home() / "bin" / "stop-cluster.sh")], env=_environment(s),
                   capture_output=True, text=True)
    wait_until(lambda: not _daemon_pids(s), 60, "the Flink daemons to exit")
    return "Flink cluster stopped"


def submit(s: Settings, job: str, job_args: list[str], savepoint: str | None = None,
           allow_non_restored: bool = False) -> str:
    """``flink run -d [-s savepoint [-n]] -py jobs/<job>.py -pyfs <project>`` against the session cluster;
    returns the job id."""
    rest(s, "/overview", timeout=2)  # fails in one line when no cluster is there
    script = PROJECT_ROOT / "jobs" / f"{job}.py"
    restore = ["-s", savepoint, *(["-n"] if allow_non_restored else [])] if savepoint else []
    with staged_python_files(s) as python_files:
        argv = [str(flink_home() / "bin" / "flink"), "run", "-m", f"{s.host}:{s.flink_rest_port}", "-d",
                *restore, "-pyclientexec", sys.executable, "-pyexec", sys.executable,
                "-py", str(script), "-pyfs", str(python_files), *job_args, "--cluster"]
        out = subprocess.run(argv, env=_environment(s), capture_output=True, text=True)
    match = re.search(r"JobID ([0-9a-f]{32})", out.stdout + out.stderr)
    if out.returncode != 0 or not match:
        raise StackError(f"flink run {job} failed: {_root_cause(out.stderr + out.stdout)}")
    return match.group(1)


SHIPPED_PACKAGES = ("jobs", "tickflow", "connectors", "schemas")
SHIPPED_SUFFIXES = {".py", ".yaml", ".json"}


@contextlib.contextmanager
def staged_python_files(s: Settings) -> Iterator[Path]:
    """A clean copy of the packages a job imports on the TaskManagers (``-pyfs``): only sources and their
    data files, never the project root with its venv, jars, data and sockets. Each submit stages its own
    copy (submits may run at once) and removes it once ``flink run`` has uploaded it."""
    staging = s.home / "flink" / "pyfs"
    staging.mkdir(parents=True, exist_ok=True)
    target = Path(tempfile.mkdtemp(prefix="submit-", dir=staging))
    try:
        for package in SHIPPED_PACKAGES:
            for f in (PROJECT_ROOT / package).rglob("*"):
                if (f.is_file() and f.suffix in SHIPPED_SUFFIXES and "__pycache__" not in f.parts
                        and "jvm" not in f.parts):
                    dest = target / f.relative_to(PROJECT_ROOT)
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(f, dest)
        yield target
    finally:
        shutil.rmtree(target, ignore_errors=True)


def _root_cause(output: str) -> str:
    """The one line of a failed ``flink run`` that says why. A savepoint that does not fit the program is
    named by operator: Flink gives only the operator's id, which is translated back to tickflow's uid."""

    lines = [l.strip() for l in output.splitlines() if l.strip()]
    unmapped = [re.search(r"Cannot map checkpoint/savepoint state for operator ([0-9a-f]{32})", l) for l in lines]
    hit = next((m for m in unmapped if m), None)
    if hit:
        op = hit.group(1)
        uid = known_uids().get(op)
        who = f"operator {uid!r} (id {op})" if uid else f"operator id {op}"
        return (f"the savepoint holds state of {who} that this program does not have: it was written by "
                "another job or version; start the version that wrote it")
    for needle in ("StateMigrationException", "incompatible", "Failed to rollback to checkpoint/savepoint",
                   "Caused by:"):
        hits = [l for l in lines if needle in l]
        if hits:
            return hits[-1][:400]
    return (lines[-1] if lines else "no output")[:400]


def running_job(s: Settings, name: str) -> str:
    """The id of the one RUNNING job called ``name``; StackError if there is none."""
    jobs = [j for j in rest(s, "/jobs/overview").get("jobs", [])
            if j.get("name") == name and j.get("state") == "RUNNING"]
    if not jobs:
        raise StackError(f"no running job named {name!r} on {s.flink_rest}")
    return jobs[0]["jid"]


def tasks_running(s: Settings, job_id: str) -> bool:
    """True once a job is RUNNING and every task of it runs (or has finished). A job is RUNNING while its
    tasks still deploy and initialize state, and Flink refuses a checkpoint or savepoint until its sources
    run."""
    job = rest(s, f"/jobs/{job_id}")
    vertices = job.get("vertices", [])
    return (job.get("state") == "RUNNING" and bool(vertices)
            and all(v.get("status") in ("RUNNING", "FINISHED") for v in vertices))


def _trigger_when_running(s: Settings, job_id: str, path: str, body: dict, timeout_s: float) -> str:
    """POST a savepoint or stop request once the job's tasks run; the operation's trigger id."""
    wait_until(lambda: tasks_running(s, job_id), timeout_s, f"the tasks of job {job_id} to run")
    return rest(s, f"/jobs/{job_id}/{path}", method="POST", body=body)["request-id"]


def _await_savepoint(s: Settings, job_id: str, trigger: str, timeout_s: float) -> str:
    """Wait for the savepoint operation ``trigger`` of a job; its location, or StackError with the cause."""
    result: dict = {}

    def done() -> bool:
        nonlocal result
        result = rest(s, f"/jobs/{job_id}/savepoints/{trigger}")
        return result.get("status", {}).get("id") == "COMPLETED"

    wait_until(done, timeout_s, f"the savepoint of job {job_id}")
    operation = result.get("operation", {})
    if "location" not in operation:
        cause = operation.get("failure-cause", {}).get("stack-trace", "unknown failure").splitlines()[0]
        raise StackError(f"savepoint of job {job_id} failed: {cause[:300]}")
    return operation["location"]


def stop_with_savepoint(s: Settings, job_id: str, timeout_s: float = 300, drain: bool = False) -> str:
    """Stop a job with a savepoint (into the cluster's ``execution.checkpointing.savepoint-dir``); returns
    the savepoint's location once it is complete and the job has finished. ``drain`` first sends the
    maximum watermark, so every open event-time window fires and every sink commits its last records (the
    end of a stream, not a pause in it)."""
    trigger = _trigger_when_running(s, job_id, "stop", {"drain": drain}, timeout_s)
    location = _await_savepoint(s, job_id, trigger, timeout_s)
    wait_until(lambda: job_state(s, job_id) in ("FINISHED", "CANCELED", "FAILED"), 60, f"job {job_id} to stop")
    return location


def savepoint(s: Settings, job_id: str, timeout_s: float = 300) -> str:
    """Take a savepoint of a running job and leave it running; returns the savepoint's location."""
    trigger = _trigger_when_running(s, job_id, "savepoints", {"cancel-job": False}, timeout_s)
    return _await_savepoint(s, job_id, trigger, timeout_s)


def cancel(s: Settings, job_id: str, timeout_s: float = 60) -> None:
    """Cancel a job (no savepoint) and wait until the cluster reports it CANCELED."""
    rest(s, f"/jobs/{job_id}", method="PATCH")
    wait_until(lambda: job_state(s, job_id) in ("CANCELED", "FINISHED", "FAILED"), timeout_s,
               f"job {job_id} to cancel")


def latest_checkpoint(s: Settings, job_id: str) -> tuple[int, str] | None:
    """(id, external path) of a job's latest completed checkpoint, or None before its first."""
    latest = (rest(s, f"/jobs/{job_id}/checkpoints").get("latest") or {}).get("completed") or {}
    return (latest["id"], latest["external_path"]) if latest.get("external_path") else None


def jobs(s: Settings) -> list[dict]:
    """Every job the cluster knows, newest first: id, name, state, start time (ms) and duration (ms)."""
    out = [{"id": j["jid"], "name": j.get("name", ""), "state": j.get("state", ""),
            "start_time": j.get("start-time", 0), "duration": j.get("duration", 0)}
           for j in rest(s, "/jobs/overview").get("jobs", [])]
    return sorted(out, key=lambda j: j["start_time"], reverse=True)


def job_state(s: Settings, job_id: str) -> str:
    return rest(s, f"/jobs/{job_id}").get("state", "UNKNOWN")
