"""A fresh local stack for the integration tests: wiped, started once per session, stopped at the end."""
import shutil

import pytest

from tickflow import cluster, config, stack


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
