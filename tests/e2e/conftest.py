"""The e2e tests use the same fresh test stack as the integration tests."""
from tests.integration.conftest import running_stack, settings  # noqa: F401
