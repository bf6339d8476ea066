"""Running parsers under a time bound per input, so that a hang fails the test instead of blocking CI.

Two guards:

- ``time_bound(seconds)``: in this process, a CPU-time timer (``ITIMER_PROF``) that raises
  ``InputTimeout`` in the main thread once the process has spent ``seconds`` of CPU. It interrupts Python
  code, not a long call inside C (e.g. formatting a Decimal of a billion digits), which only returns when
  it is done.
- ``fuzz(target, count, seed)``: the whole loop runs in a child process that writes the index of the input
  it is on to shared memory; this process watches the child's CPU time on that input and kills it past
  ``cpu_limit_s`` (or ``wall_limit_s`` without progress), naming the input. This catches hangs in C and
  crashes (a segfault in a native decoder) too. CPU time, not wall time, so that a busy CI machine does
  not make a slow input look like a hung one.
"""
from __future__ import annotations

import base64
import multiprocessing
import os
import signal
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

FINDINGS = Path(__file__).resolve().parents[3] / ".tickflow" / "fuzz-findings"
_TICK = os.sysconf("SC_CLK_TCK")


class InputTimeout(BaseException):
    """An input ran past its time bound (BaseException: a parser's ``except Exception`` cannot swallow it)."""


@contextmanager
def time_bound(cpu_seconds: float) -> Iterator[None]:
    """Raise ``InputTimeout`` once the block has used ``cpu_seconds`` of this process's CPU (CPU, not wall
    time: a busy machine must not fail an input that is merely waiting for a core)."""
    def on_timer(signum: int, frame: object) -> None:
        raise InputTimeout(f"input took more than {cpu_seconds:g}s of CPU")

    previous = signal.signal(signal.SIGPROF, on_timer)
    signal.setitimer(signal.ITIMER_PROF, cpu_seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


@dataclass
class Failure:
    index: int
    kind: str  # "exception", "hang" or "crash"
    text: str
    payload: bytes = b""

    def describe(self) -> str:
        shown = base64.b64encode(self.payload[:3000]).decode()
        return f"input #{self.index} ({self.kind}): {self.text}\n  payload_b64 (first 3000 bytes): {shown}"


@dataclass
class FuzzReport:
    target: str
    count: int
    seconds: float = 0.0
    outcomes: Counter = field(default_factory=Counter)
    failures: list[Failure] = field(default_factory=list)
    failed: int = 0
    #: the outcome of each input, by index (kept only for a run over given inputs)
    each: dict[int, str] = field(default_factory=dict)


#: where a run's inputs come from: ("seeded", seed) makes input i from the seed; ("given", inputs) lists them
Source = tuple


def _input(target: str, source: Source, i: int) -> bytes:
    from tests.unit.fuzz.targets import input_for

    kind, value = source
    return input_for(target, value, i) if kind == "seeded" else value[i]


def _child(target: str, source: Source, start: int, count: int, progress, conn) -> None:
    from tests.unit.fuzz.targets import target_named, warm_for

    run = target_named(target).run
    warm_for(target)  # first calls load calendars, zones, codecs: not an input's time
    outcomes: Counter = Counter()
    each: dict[int, str] = {}
    failures: list[tuple[int, str, bytes]] = []
    failed = 0
    started = time.monotonic()
    for i in range(start, count):
        progress.value = i
        data = _input(target, source, i)
        try:
            outcome = run(data)
        except Exception as exc:  # noqa: BLE001 - every unexpected exception is a finding
            failed += 1
            outcome = f"{type(exc).__name__}: {str(exc)[:200]}"
            if len(failures) < 10:
                text = "".join(traceback.format_exception_only(type(exc), exc)).strip()[:1500]
                where = traceback.extract_tb(exc.__traceback__)[-3:]
                text += "\n    " + "\n    ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in where)
                failures.append((i, text, data[:1 << 20]))
        else:
            outcomes[outcome] += 1
        if source[0] == "given":
            each[i] = outcome
    progress.value = count
    conn.send((dict(outcomes), each, failures, failed, time.monotonic() - started))
    conn.close()


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def fuzz(target: str, count: int, seed: int, cpu_limit_s: float = 1.0, wall_limit_s: float = 20.0,
         startup_s: float = 120.0, max_failures: int = 10) -> FuzzReport:
    """Run ``count`` inputs of ``target`` (``targets.TARGETS``) made from ``seed`` in a watched child process.

    After a hang or a crash the run resumes with the next input in a new child, until ``max_failures``.
    """
    report = _watched(target, ("seeded", seed), count, cpu_limit_s, wall_limit_s, startup_s, max_failures)
    _keep(report, seed)
    return report


def replay(target: str, inputs: list[bytes], cpu_limit_s: float = 1.0, wall_limit_s: float = 20.0) -> FuzzReport:
    """Run ``inputs`` through ``target`` in a watched child; ``each[i]`` is input i's outcome, the
    exception's name and text, or (in ``failures``) a hang or crash."""
    return _watched(target, ("given", tuple(inputs)), len(inputs), cpu_limit_s, wall_limit_s, 120.0, len(inputs))


def _watched(target: str, source: Source, count: int, cpu_limit_s: float, wall_limit_s: float, startup_s: float,
             max_failures: int) -> FuzzReport:
    report = FuzzReport(target, count)
    start = 0
    while start < count and len(report.failures) < max_failures:
        start = _run_from(report, target, source, start, count, cpu_limit_s, wall_limit_s, startup_s)
    report.failures = report.failures[:max_failures]
    return report


def _run_from(report: FuzzReport, target: str, source: Source, start: int, count: int, cpu_limit_s: float,
              wall_limit_s: float, startup_s: float) -> int:
    """One child from input ``start``; returns where the next child starts (``count`` when done)."""
    ctx = multiprocessing.get_context("spawn")
    progress = ctx.RawValue("q", -1)
    receiver, sender = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(target, source, start, count, progress, sender), daemon=True)
    child.start()
    sender.close()
    seen, seen_at, cpu_at = -1, time.monotonic(), 0.0

    def lost(kind: str, text: str, index: int) -> int:
        report.failed += 1
        report.failures.append(Failure(index, kind, text, _input(target, source, index)))
        report.each[index] = kind
        return index + 1

    try:
        while True:
            if receiver.poll(0.05):
                try:
                    outcomes, each, failures, failed, seconds = receiver.recv()
                except EOFError:  # the child died before its report
                    child.join(10)
                    return lost("crash", f"the child process died (exit code {child.exitcode})",
                                max(start, progress.value))
                report.outcomes.update(outcomes)
                report.each.update(each)
                report.failures += [Failure(i, "exception", text, data) for i, text, data in failures]
                report.failed += failed
                report.seconds += seconds
                return count
            now, index = time.monotonic(), progress.value
            if index != seen:
                seen, seen_at, cpu_at = index, now, _cpu_seconds(child.pid)
                continue
            if not child.is_alive():
                if receiver.poll(0):
                    continue  # its report arrived just before it exited
                return lost("crash", f"the child process died (exit code {child.exitcode})", max(start, index))
            if index < 0:
                if now - seen_at > startup_s:
                    raise RuntimeError(f"fuzz child for {target} did not start within {startup_s:.0f}s")
                continue
            cpu = _cpu_seconds(child.pid) - cpu_at
            if cpu > cpu_limit_s or now - seen_at > wall_limit_s:
                child.kill()
                return lost("hang", f"no result after {cpu:.1f}s of CPU ({now - seen_at:.1f}s wall)", index)
    finally:
        if child.is_alive():
            child.kill()
        child.join(10)
        receiver.close()


def _keep(report: FuzzReport, seed: int) -> None:
    """Failing inputs are written to .tickflow/fuzz-findings for the regression corpus."""
    if not report.failures:
        return
    FINDINGS.mkdir(parents=True, exist_ok=True)
    for f in report.failures:
        (FINDINGS / f"{report.target}-{seed}-{f.index}.bin").write_bytes(f.payload)
        (FINDINGS / f"{report.target}-{seed}-{f.index}.txt").write_text(f"{f.kind}: {f.text}\n")
