"""Shared test settings: integration tests run against their own stack, beside any dev stack.

The test stack lives under .tickflow/test-stack with ports shifted by 10000, so `make test` never
touches the data or ports of a stack started by `make demo`.
"""
import os

from tickflow.config import PROJECT_ROOT

TEST_ENV = {
    "TICKFLOW_HOME": str(PROJECT_ROOT / ".tickflow" / "test-stack"),
    "TICKFLOW_KAFKA_PORT": "19092",
    "TICKFLOW_KAFKA_CONTROLLER_PORT": "19093",
    "TICKFLOW_POSTGRES_PORT": "15433",
    "TICKFLOW_S3_PORT": "19000",
    "TICKFLOW_FLINK_REST_PORT": "18081",
    "TICKFLOW_FLINK_RPC_PORT": "16123",
    "TICKFLOW_FLINK_METRICS_PORT": "19249",
}
for _k, _v in TEST_ENV.items():
    os.environ.setdefault(_k, _v)
