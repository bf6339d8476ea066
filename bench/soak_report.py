"""The soak's figures and verdicts (bench/soak.py), computed from what it sampled; no I/O here.

The measured span (after the warm-up, up to the feed's end) is cut into thirds, by wall time:

- memory bounded: the last third's median TaskManager RSS (with its Python workers) and median checkpointed
  state (all jobs) are at most ``MEMORY_GROWTH`` above the middle third's;
- checkpoints: the longest completed checkpoint of every job took less than the checkpoint timeout, and
  none failed;
- no latency drift: the last third's p99 bar delay is at most ``DRIFT_FACTOR`` × the first third's +
  ``DRIFT_SLACK_MS`` (the slack keeps scheduling noise on a sub-second delay from reading as drift);
- keeping up: the last third's median input lag of every job reading the feed is under ``LAG_SECONDS`` of
  feed (Flink's Kafka source commits its offsets when a checkpoint completes, so a job that keeps up
  still shows a lag of a few seconds of feed);
- jobs stayed up: every job RUNNING at every sample, no restart.
"""
from __future__ import annotations

import statistics

from paced_feed import percentile

MEMORY_GROWTH = 0.20
DRIFT_FACTOR = 1.25
DRIFT_SLACK_MS = 250
LAG_SECONDS = 10
THIRDS = ("first", "middle", "last")


def thirds(start_ms: int, end_ms: int) -> list[tuple[int, int]]:
    """[start, end) cut into three equal spans."""
    step = (end_ms - start_ms) / 3
    return [(int(start_ms + i * step), int(start_ms + (i + 1) * step)) for i in range(3)]


def split(items: list, time_of, bounds: list[tuple[int, int]]) -> list[list]:
    """``items`` into the thirds their time (``time_of(item)``, ms) falls in; the rest left out."""
    out: list[list] = [[], [], []]
    for item in items:
        t = time_of(item)
        for i, (lo, hi) in enumerate(bounds):
            if lo <= t < hi or (i == 2 and t == hi):
                out[i].append(item)
                break
    return out


def distribution(values: list[float]) -> dict | None:
    """n, p50, p99 and max of ``values``, or None when there are none."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"n": len(values), "p50": percentile(values, 0.5), "p99": percentile(values, 0.99), "max": max(values)}


def median(values: list[float | None]) -> float | None:
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 3) if values else None


# --- latency --------------------------------------------------------------------------------------------

def bar_delays(bars: list[tuple[dict, int, int]], closed_ms, start_ms: int, end_ms: int) -> list[dict]:
    """Per bar closed inside [start, end] (1d bars aside): when it closed, and its produced (Kafka timestamp)
    and visible (first read committed) delays after closing."""
    out = []
    for bar, produced_ms, visible_ms in bars:
        closed = closed_ms(bar)
        if bar["timeframe"] == "1d" or not start_ms <= closed <= end_ms:
            continue
        out.append({"closed_ms": closed, "timeframe": bar["timeframe"],
                    "produced": produced_ms - closed, "visible": visible_ms - closed})
    return out


def latency_by_third(delays: list[dict], pg_arrivals: list[tuple[int, int]], out_of_orderness_ms: int,
                     bounds: list[tuple[int, int]]) -> dict:
    """Produced, visible and PostgreSQL (first appearance of a 1m bucket in ``bars``) delay per third."""
    parts = split(delays, lambda d: d["closed_ms"], bounds)
    pg = [{"closed_ms": start + 60_000 + out_of_orderness_ms, "delay": seen - (start + 60_000 + out_of_orderness_ms)}
          for start, seen in pg_arrivals]
    pg_parts = split(pg, lambda d: d["closed_ms"], bounds)
    return {name: {"produced_ms": distribution([d["produced"] for d in parts[i]]),
                   "visible_ms": distribution([d["visible"] for d in parts[i]]),
                   "postgres_ms": distribution([d["delay"] for d in pg_parts[i]])}
            for i, name in enumerate(THIRDS)}


def drift_verdict(by_third: dict) -> dict:
    """Whether the last third's p99 produced delay stayed within the first third's margin."""
    first, last = by_third["first"]["produced_ms"], by_third["last"]["produced_ms"]
    if not first or not last:
        return {"ok": False, "why": "no bars in the first or last third"}
    limit = first["p99"] * DRIFT_FACTOR + DRIFT_SLACK_MS
    return {"ok": last["p99"] <= limit, "first_p99_ms": first["p99"], "last_p99_ms": last["p99"],
            "limit_ms": limit}


# --- memory and state -----------------------------------------------------------------------------------

def total_state_bytes(sample: dict) -> int | None:
    """Checkpointed state of all jobs at a sample (their latest completed checkpoints)."""
    sizes = [j.get("state_bytes") for j in sample["jobs"].values()]
    return None if any(v is None for v in sizes) else sum(sizes)


def growth(samples_by_third: list[list[dict]], value) -> dict:
    """Medians of ``value(sample)`` per third and whether the last stays within MEMORY_GROWTH of the middle."""
    medians = [median([value(x) for x in part]) for part in samples_by_third]
    middle, last = medians[1], medians[2]
    ok = middle is not None and last is not None and last <= middle * (1 + MEMORY_GROWTH)
    return {"median_by_third": dict(zip(THIRDS, medians)), "ok": ok,
            "last_over_middle": round(last / middle, 3) if middle and last is not None else None}


def memory_summary(samples: list[dict], bounds: list[tuple[int, int]]) -> dict:
    """TaskManager RSS (with its Python workers), heap and checkpointed state per third, and the verdict."""
    parts = split(samples, lambda x: x["t_ms"], bounds)
    rss = growth(parts, lambda x: x["tm_rss_mb"])
    state = growth(parts, total_state_bytes)
    return {
        "tm_rss_mb": rss, "checkpointed_state_bytes": state,
        "tm_heap_used_mb": {n: median([x["tm"]["heap_used"] for x in p]) for n, p in zip(THIRDS, parts)},
        "tm_managed_used_mb": {n: median([x["tm"]["managed_used"] for x in p]) for n, p in zip(THIRDS, parts)},
        "tm_rss_max_mb": max((x["tm_rss_mb"] for x in samples if x["tm_rss_mb"] is not None), default=None),
        "ok": rss["ok"] and state["ok"],
    }


def lag_summary(samples: list[dict], bounds: list[tuple[int, int]], rate: int, judged: set[str]) -> dict:
    """Median input lag (records) per job and third; keeping up when, for every job in ``judged`` (those
    reading the feed), the last third's median lag is under LAG_SECONDS of feed."""
    parts = split(samples, lambda x: x["t_ms"], bounds)
    out, ok = {}, True
    for job in samples[-1]["lag"] if samples else {}:
        medians = [median([x["lag"].get(job) for x in p]) for p in parts]
        entry = {"median_by_third": dict(zip(THIRDS, medians))}
        if job in judged:
            entry["ok"] = medians[2] is not None and medians[2] <= rate * LAG_SECONDS
            ok = ok and entry["ok"]
        out[job] = entry
    return {"limit_records": rate * LAG_SECONDS, "by_job": out, "ok": ok and bool(judged & set(out))}


# --- checkpoints ----------------------------------------------------------------------------------------

def checkpoint_summary(samples: list[dict], measured: list[dict], timeout_ms: int) -> dict:
    """Per job, from the last sample: checkpoints completed and failed since the first sample (the feed's
    start: the cluster counts the triggers refused while a job was still deploying as failures), max and
    median duration; state size at the first and last measured samples; ok when every max is under the
    timeout and none failed."""
    first, last = samples[0]["jobs"], samples[-1]["jobs"]
    jobs, ok = {}, True
    for name, j in last.items():
        first_state = next((x["jobs"][name]["state_bytes"] for x in measured
                            if x["jobs"][name].get("state_bytes") is not None), None)
        failed = None if j["failed"] is None else j["failed"] - (first[name]["failed"] or 0)
        jobs[name] = {"completed": j["completed"], "failed": failed, "max_duration_ms": j["max_duration_ms"],
                      "median_duration_ms": j["median_duration_ms"], "state_bytes_first": first_state,
                      "state_bytes_last": j["state_bytes"]}
        ok = ok and failed == 0 and j["max_duration_ms"] is not None and j["max_duration_ms"] < timeout_ms
    durations = [j["max_duration_ms"] for j in jobs.values() if j["max_duration_ms"] is not None]
    return {"timeout_ms": timeout_ms, "max_duration_ms": max(durations, default=None),
            "failed": sum(j["failed"] or 0 for j in jobs.values()), "by_job": jobs, "ok": ok}


def jobs_up(samples: list[dict]) -> dict:
    """Every job RUNNING at every sample and never restarted."""
    not_running = sorted({f"{name}: {j['state']}" for x in samples for name, j in x["jobs"].items()
                          if j["state"] != "RUNNING"})
    restarts = {name: j["restarts"] for name, j in samples[-1]["jobs"].items()} if samples else {}
    return {"ok": bool(samples) and not not_running and not any(restarts.values()),
            "not_running_seen": not_running, "restarts": restarts}


def cpu_summary(samples: list[dict]) -> dict:
    """Median share of the machine's CPU (all cores = 1) used in all, by the soak (and each of its parts) and
    by everything else."""
    parts = sorted({name for x in samples for name in x["cpu"].get("by_part", {})})
    return {**{k: median([x["cpu"][k] for x in samples]) for k in ("busy", "ours", "others")},
            "by_part": {name: median([x["cpu"].get("by_part", {}).get(name) for x in samples]) for name in parts}}
