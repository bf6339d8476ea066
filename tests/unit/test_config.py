"""Settings: defaults run locally; TICKFLOW_* variables override them."""

import pytest

from tickflow import config


def test_defaults_point_at_loopback():
    s = config.load({})
    assert s.kafka_bootstrap == "127.0.0.1:9092"
    assert s.s3_endpoint == "http://127.0.0.1:9000"
    assert s.home == config.PROJECT_ROOT / ".tickflow"


def test_environment_overrides_ports_and_home(tmp_path):
    s = config.load({"TICKFLOW_KAFKA_PORT": "19092", "TICKFLOW_HOME": str(tmp_path)})
    assert s.kafka_bootstrap == "127.0.0.1:19092"
    assert s.home == tmp_path and s.run_dir == tmp_path / "run"
    # jars are shared by every stack home
    assert s.jars == config.PROJECT_ROOT / ".tickflow" / "jars"


def test_non_numeric_port_is_a_clear_error():
    with pytest.raises(ValueError, match="TICKFLOW_KAFKA_PORT='x' is not valid"):
        config.load({"TICKFLOW_KAFKA_PORT": "x"})
