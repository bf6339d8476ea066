"""The fuzz campaign: every selected target's mutation run, two at a time in watched child processes, started
once per session; and the Hypothesis settings every property uses.

``TICKFLOW_FUZZ_INPUTS`` (default 100,000) and ``TICKFLOW_FUZZ_SEED`` (default 1) size and seed the
mutation runs; CI uses the defaults, so every run replays the same inputs. Hypothesis runs derandomized
with no example database: the same examples every run.
"""
from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, settings

from tests.unit.fuzz.bounded import FuzzReport, fuzz

FUZZ_INPUTS = int(os.environ.get("TICKFLOW_FUZZ_INPUTS", "100000"))
FUZZ_SEED = int(os.environ.get("TICKFLOW_FUZZ_SEED", "1"))
PARALLEL = 2  # the CI machine's cores


def hypothesis_settings(max_examples: int) -> settings:
    """Derandomized (the same examples every run), no example database. The deadline is wall time and
    generous, as this machine is shared; each property also bounds every input to 1 s of CPU
    (``bounded.time_bound``), which a busy machine cannot trip."""
    return settings(max_examples=max_examples, derandomize=True, database=None, deadline=timedelta(seconds=10),
                    print_blob=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                            HealthCheck.filter_too_much,
                                                            HealthCheck.large_base_example])


class Campaign:
    """Mutation runs of the targets the session selected, started together, ``PARALLEL`` at a time."""

    def __init__(self, targets: list[str]) -> None:
        self._pool = ThreadPoolExecutor(PARALLEL, thread_name_prefix="fuzz")
        self._runs: dict[str, Future] = {t: self._pool.submit(fuzz, t, FUZZ_INPUTS, FUZZ_SEED) for t in targets}

    def report(self, target: str) -> FuzzReport:
        if target not in self._runs:
            self._runs[target] = self._pool.submit(fuzz, target, FUZZ_INPUTS, FUZZ_SEED)
        return self._runs[target].result()

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)


@pytest.fixture(scope="session", autouse=True)
def campaign(request: pytest.FixtureRequest):
    """Started with the first test of this directory, so that the runs overlap the in-process tests."""
    selected = [item.callspec.params["target"] for item in request.session.items
                if getattr(item, "callspec", None) is not None and "campaign" in item.fixturenames
                and "target" in item.callspec.params]
    c = Campaign(list(dict.fromkeys(selected)))
    yield c
    c.close()
