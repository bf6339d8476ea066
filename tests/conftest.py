"""Shared test settings: integration tests run against their own stack, beside any dev stack.

The test stack lives under .tickflow/test-stack with ports shifted by 10000, so `make test` never
touches the data or ports of a stack started by `make demo`.
"""
import os

from tickflow.config import shifted_stack_env

TEST_ENV = shifted_stack_env(10000, "test-stack")
for _k, _v in TEST_ENV.items():
    os.environ.setdefault(_k, _v)
