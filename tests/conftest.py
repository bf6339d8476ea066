"""Shared test settings: integration tests run against their own stack, beside any dev stack.

The test stack lives under .tickflow/test-stack with ports shifted by 10000, so `make test` never
touches the data or ports of a stack started by `make demo`. TICKFLOW_TEST_OFFSET moves it (two checkouts
testing on one machine at once).
"""
import os

from tickflow.runtime.config import shifted_stack_env

TEST_ENV = shifted_stack_env(int(os.environ.get("TICKFLOW_TEST_OFFSET", "10000")), "test-stack")
# The tests publish a few symbols, so most partitions of a raw topic stay empty and hold event time back
# until they count as idle: a short idle timeout keeps them quick. The fault suite (tests/e2e) runs with
# the default, which is longer than its outages.
TEST_ENV["TICKFLOW_SOURCE_IDLE_TIMEOUT_MS"] = "5000"
for _k, _v in TEST_ENV.items():
    os.environ.setdefault(_k, _v)
