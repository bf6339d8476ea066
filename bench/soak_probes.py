"""What the soak (bench/soak.py) samples while the pipeline runs: the Flink REST API (checkpoints, job
state, TaskManager memory), /proc (process RSS and CPU) and Kafka (consumer lag). Each probe returns
plain numbers, or None where the source did not answer, so one slow answer never stops the soak."""
from __future__ import annotations

import os
import time
from pathlib import Path

# TaskManager metrics (Flink's system metrics, scope Status.*): JVM heap, non-heap, direct buffers, managed
# memory (RocksDB's share), metaspace
TM_METRICS = {
    "heap_used": "Status.JVM.Memory.Heap.Used",
    "heap_committed": "Status.JVM.Memory.Heap.Committed",
    "nonheap_used": "Status.JVM.Memory.NonHeap.Used",
    "direct_used": "Status.JVM.Memory.Direct.MemoryUsed",
    "managed_used": "Status.Flink.Memory.Managed.Used",
    "metaspace_used": "Status.JVM.Memory.Metaspace.Used",
}
MB = 1024 * 1024
PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


# --- Flink REST -----------------------------------------------------------------------------------------

def _rest(s, path: str) -> dict | list | None:
    from tickflow import cluster
    from tickflow.processes import StackError

    try:
        return cluster.rest(s, path, timeout=10)
    except StackError:
        return None


def checkpoint_sample(s, job_id: str) -> dict:
    """The job's checkpoint counters, its latest completed checkpoint (id, duration, state size, the
    incremental part) and the maximum duration of all its completed checkpoints."""
    stats = _rest(s, f"/jobs/{job_id}/checkpoints") or {}
    counts = stats.get("counts") or {}
    latest = (stats.get("latest") or {}).get("completed") or {}
    summary = stats.get("summary") or {}
    return {
        "completed": counts.get("completed"), "failed": counts.get("failed"),
        "latest_id": latest.get("id"), "latest_duration_ms": latest.get("end_to_end_duration"),
        "state_bytes": latest.get("state_size"), "incremental_bytes": latest.get("checkpointed_size"),
        "max_duration_ms": (summary.get("end_to_end_duration") or {}).get("max"),
        "median_duration_ms": (summary.get("end_to_end_duration") or {}).get("p50"),
    }


def job_sample(s, job_id: str) -> dict:
    """State and restart count of a job, with its checkpoints."""
    job = _rest(s, f"/jobs/{job_id}") or {}
    restarts = _rest(s, f"/jobs/{job_id}/metrics?get=numRestarts") or []
    return {"state": job.get("state"), "restarts": _metric_values(restarts).get("numRestarts"),
            **checkpoint_sample(s, job_id)}


def _metric_values(answer) -> dict[str, float]:
    """``[{"id": name, "value": "123"}, …]`` → {name: 123.0}."""
    out = {}
    for m in answer if isinstance(answer, list) else []:
        try:
            out[m["id"]] = float(m["value"])
        except (KeyError, TypeError, ValueError):
            continue
    return out


def taskmanager_memory(s) -> dict:
    """The TaskManager's JVM and managed memory in MB (None where the metric did not answer)."""
    tms = (_rest(s, "/taskmanagers") or {}).get("taskmanagers") or []
    if not tms:
        return {k: None for k in TM_METRICS}
    values = _metric_values(_rest(s, f"/taskmanagers/{tms[0]['id']}/metrics?get={','.join(TM_METRICS.values())}"))
    return {k: _mb(values.get(name)) for k, name in TM_METRICS.items()}


def _mb(value: float | None) -> float | None:
    return None if value is None else round(value / MB, 1)


# --- /proc ----------------------------------------------------------------------------------------------

def pids_in(pid_dir: Path, pattern: str) -> list[int]:
    """Live PIDs named by the PID files matching ``pattern`` in ``pid_dir``."""
    out = []
    for f in pid_dir.glob(pattern):
        out += [int(w) for w in f.read_text().split() if w.isdigit() and Path(f"/proc/{w}").exists()]
    return out


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (field 3 onwards), or None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def descendants(roots: list[int]) -> list[int]:
    """The roots and every process below them."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    out, todo = [], list(roots)
    while todo:
        pid = todo.pop()
        if pid not in out:
            out.append(pid)
            todo += children.get(pid, [])
    return out


def rss_mb(pids: list[int]) -> float:
    """Resident memory of the processes together, MB."""
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
    return round(total / MB, 1)


def cpu_seconds(pids: list[int]) -> float:
    """CPU time (user + system, with reaped children's) the processes have used."""
    total = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields:
            total += sum(int(x) for x in fields[11:15])
    return total / TICKS


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all but idle and iowait), summed over cores."""
    values = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / TICKS


class CpuMeter:
    """Share of the machine's CPU (0–1 of all cores) used since the last call: by everything (busy), by each
    group of processes (e.g. the TaskManager with its Python workers, Kafka, this process), by all groups
    together (ours) and by everything else (others)."""

    def __init__(self) -> None:
        self._last: tuple[float, float, dict[str, float]] | None = None

    def share(self, groups: dict[str, list[int]]) -> dict:
        now = (time.monotonic(), machine_busy_seconds(), {name: cpu_seconds(pids) for name, pids in groups.items()})
        last, self._last = self._last, now
        if last is None or now[0] <= last[0]:
            return {"busy": None, "ours": None, "others": None, "by_part": {}}
        capacity = (now[0] - last[0]) * (os.cpu_count() or 1)
        busy = (now[1] - last[1]) / capacity
        parts = {name: round(max(0.0, used - last[2].get(name, 0.0)) / capacity, 3) for name, used in now[2].items()}
        ours = sum(parts.values())
        return {"busy": round(busy, 3), "ours": round(ours, 3), "others": round(max(0.0, busy - ours), 3),
                "by_part": parts}


# --- Kafka ----------------------------------------------------------------------------------------------

class LagMeter:
    """Records a consumer group has not committed yet on a topic (Flink's Kafka source commits its offsets
    on every checkpoint, so this includes up to one checkpoint interval of records)."""

    def __init__(self, bootstrap: str) -> None:
        from kafka import KafkaConsumer
        from kafka.admin import KafkaAdminClient

        self._admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="soak-lag")
        self._consumer = KafkaConsumer(bootstrap_servers=bootstrap, client_id="soak-lag",
                                       enable_auto_commit=False)

    def lag(self, group: str, topic: str) -> int | None:
        try:
            committed = self._admin.list_group_offsets(group).get(group) or {}
            parts = [tp for tp in committed if tp.topic == topic]
            if not parts:
                return None
            ends = self._consumer.end_offsets(parts)
            return sum(max(0, ends[tp] - committed[tp].offset) for tp in parts)
        except Exception:  # kafka-python raises many kinds; a missed sample is None
            return None

    def close(self) -> None:
        self._admin.close()
        self._consumer.close()


# --- PostgreSQL -----------------------------------------------------------------------------------------

class NewestBar:
    """Watches when each new 1m bucket first appears in the ``bars`` table (wall ms, bucket start ms)."""

    def __init__(self, dsn: str) -> None:
        from tickflow import migrations

        self._conn = migrations.connect(dsn)
        self._newest: int | None = None
        self.arrivals: list[tuple[int, int]] = []

    def poll(self) -> None:
        with self._conn.cursor() as cur:
            cur.execute("SELECT max(bucket_start) FROM bars WHERE timeframe = '1m'")
            newest = cur.fetchone()[0]
        if newest is None:
            return
        start_ms = int(newest.timestamp() * 1000)
        if self._newest is None or start_ms > self._newest:
            self._newest = start_ms
            self.arrivals.append((start_ms, int(time.time() * 1000)))

    def close(self) -> None:
        self._conn.close()
