"""A fresh local stack for the integration tests: wiped, started once per session, stopped at the end."""
import shutil

import pytest

from tickflow import cluster, stack
from tickflow.runtime import config


@pytest.fixture(scope="session")
def settings() -> config.Settings:
    return config.load()


@pytest.fixture(scope="session")
def running_stack(settings):
    cluster.down(settings)
    stack.down(settings, log=lambda _: None)
    for d in (settings.data_dir, settings.home / "checkpoints", settings.home / "kafka"):
        shutil.rmtree(d, ignore_errors=True)
    stack.up(settings, log=lambda _: None)
    yield settings
    cluster.down(settings)
    stack.down(settings, log=lambda _: None)


@pytest.fixture(autouse=True)
def no_job_outlives_its_test(request):
    """After each test, cancel any job it left running on the session cluster, so that one failing test
    cannot hold the task slots the next test's job needs (a failure then stays one failure)."""
    yield
    if "running_stack" not in request.fixturenames:
        return
    s = request.getfixturevalue("running_stack")
    if not cluster.status(s).startswith("running"):
        return
    for job in cluster.jobs(s):
        if job["state"] in ("RUNNING", "CREATED", "RESTARTING", "INITIALIZING"):
            cluster.cancel(s, job["id"])
