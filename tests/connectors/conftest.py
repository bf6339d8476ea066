import pytest

from connectors.es_sample import es_sample_csv, read_es_trades
from tickflow.runtime import config


@pytest.fixture(scope="session")
def es_trades():
    """The first 20,000 real ES trades (the simulators' recorded data)."""
    return read_es_trades(es_sample_csv(config.load().cache_dir), limit=20_000)
