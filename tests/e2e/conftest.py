"""The fault suite's own stack: ports +21000 and data under .tickflow/e2e-stack, so `make test-e2e` runs
beside a demo, the integration tests (+10000) and the benchmarks (+20000, +22000) without touching them.

tests/conftest.py only sets its ports when they are unset; these are set before any settings are read."""
import os
import shutil

import pytest

from tickflow.runtime.config import Settings, shifted_stack_env

E2E_ENV = shifted_stack_env(21000, "e2e-stack")
# the fault suite proves the defaults: the source idle timeout is the product's, not the quick tests' one
E2E_ENV["TICKFLOW_SOURCE_IDLE_TIMEOUT_MS"] = str(Settings.source_idle_timeout_ms)
# JobManager HA (ZooKeeper in the stack), so the JobManager-kill scenario has a JobManager to recover from
E2E_ENV["TICKFLOW_FLINK_HA"] = "true"
# two jobs at parallelism 2 on the one TaskManager
E2E_ENV["TICKFLOW_FLINK_TASK_SLOTS"] = "4"
os.environ.update(E2E_ENV)


@pytest.fixture(scope="session")
def e2e_stack():
    """A wiped stack and session cluster for the whole suite, stopped at the end."""
    from tickflow import cluster, migrations, stack
    from tickflow.runtime import config

    s = config.load()
    assert str(s.kafka_port) == E2E_ENV["TICKFLOW_KAFKA_PORT"], \
        "the e2e ports must be set before tickflow's settings are read"
    cluster.down(s)
    stack.down(s, log=lambda _: None)
    shutil.rmtree(s.home, ignore_errors=True)
    stack.up(s, log=lambda _: None)
    conn = migrations.connect(s.postgres_dsn)
    try:
        migrations.migrate(conn)
    finally:
        conn.close()
    cluster.up(s)
    yield s
    cluster.down(s)
    stack.down(s, log=lambda _: None)
