"""Submitting jobs at once: each `flink run` ships its own complete copy of the Python packages."""
from __future__ import annotations

import threading
from pathlib import Path

from tickflow import cluster
from tickflow.runtime import config
from tickflow.runtime.config import PROJECT_ROOT


def shipped_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_concurrent_submits_stage_complete_copies_of_their_own_and_leave_none_behind(tmp_path):
    s = config.load({"TICKFLOW_HOME": str(tmp_path)})
    expected = {str(p.relative_to(PROJECT_ROOT)) for pkg in cluster.SHIPPED_PACKAGES
                for p in (PROJECT_ROOT / pkg).rglob("*")
                if p.is_file() and p.suffix in cluster.SHIPPED_SUFFIXES and "__pycache__" not in p.parts
                and "jvm" not in p.parts}
    seen: list[tuple[Path, set[str]]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def submit() -> None:
        try:
            barrier.wait(timeout=10)
            with cluster.staged_python_files(s) as staged:
                barrier.wait(timeout=60)  # every copy exists at the same time
                seen.append((staged, shipped_files(staged)))
                barrier.wait(timeout=60)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert len({path for path, _ in seen}) == 4, "each submit has its own directory"
    assert all(files == expected for _, files in seen), "each copy is complete"
    assert "jobs/market_data_processor.py" in expected
    assert not any(path.exists() for path, _ in seen), "copies are removed once submitted"
