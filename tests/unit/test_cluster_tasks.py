"""cluster.tasks_running: when a savepoint, a stop or a fault may start (the REST answer is stubbed)."""
from unittest import mock

import pytest

from tickflow import cluster
from tickflow.runtime import config


@pytest.mark.parametrize("job, ready", [
    ({"state": "RUNNING", "vertices": [{"status": "RUNNING"}, {"status": "FINISHED"}]}, True),
    ({"state": "RUNNING", "vertices": [{"status": "RUNNING"}, {"status": "DEPLOYING"}]}, False),
    ({"state": "RUNNING", "vertices": [{"status": "INITIALIZING"}]}, False),
    ({"state": "CREATED", "vertices": [{"status": "RUNNING"}]}, False),
    ({"state": "RUNNING", "vertices": []}, False),
])
def test_a_job_is_ready_once_it_and_every_task_run(job, ready):
    with mock.patch.object(cluster, "rest", return_value=job):
        assert cluster.tasks_running(config.load(), "job-id") is ready
