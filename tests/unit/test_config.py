"""Settings: defaults run locally; TICKFLOW_* variables override them."""

import pytest

from tickflow.runtime import config


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


def test_production_endpoints_override_the_local_host_per_service():
    s = config.load({"TICKFLOW_KAFKA_SERVERS": "tickflow-kafka-bootstrap:9092", "TICKFLOW_POSTGRES_HOST": "db",
                     "TICKFLOW_POSTGRES_PORT": "5432", "TICKFLOW_S3_URL": "https://s3.internal"})
    assert s.kafka_bootstrap == "tickflow-kafka-bootstrap:9092"
    assert s.jdbc_url == "jdbc:postgresql://db:5432/tickflow" and "host=db port=5432" in s.postgres_dsn
    assert s.s3_endpoint == "https://s3.internal"
    local = config.load({})
    assert local.kafka_bootstrap == "127.0.0.1:9092" and local.jdbc_url.startswith("jdbc:postgresql://127.0.0.1:5433/")


def test_a_job_on_a_cluster_takes_checkpointing_from_the_cluster_and_jars_from_lib_in_the_image():
    from tickflow.runtime.flink_runtime import job_configuration

    local = job_configuration(config.load({}), "j")
    assert local["execution.checkpointing.interval"] == "2000 ms" and "pipeline.jars" in local
    on_cluster = job_configuration(config.load({"TICKFLOW_JARS_IN_FLINK_LIB": "true"}), "j", on_cluster=True)
    assert not any(k.startswith("execution.checkpointing.") for k in on_cluster)
    assert "pipeline.jars" not in on_cluster
    # the local session cluster has the connectors in its lib/: a job takes only tickflow's own jar along
    session = job_configuration(config.load({}), "j", on_cluster=True)
    assert session["pipeline.jars"].endswith("/tickflow-udfs.jar") and ";" not in session["pipeline.jars"]


def test_a_shifted_stack_moves_every_port_and_the_home_and_loads_as_settings():
    env = config.shifted_stack_env(21000, "e2e-stack")
    s = config.load(env)
    assert (s.kafka_port, s.postgres_port, s.s3_port, s.flink_rest_port) == (30092, 26433, 30000, 29081)
    assert (s.kafka_controller_port, s.flink_rpc_port, s.flink_metrics_port) == (30093, 27123, 30249)
    assert s.home.name == "e2e-stack"


# the shifted stacks: tests/conftest.py, bench/bench_stack.py, tests/e2e/conftest.py, bench/soak.py
STACK_OFFSETS = {"test-stack": 10000, "bench-stack": 20000, "e2e-stack": 21000, "soak-stack": 22000}


def test_the_shifted_stacks_share_no_port_and_stay_below_the_ephemeral_ports():
    """Linux gives outgoing connections ports from 32768 up, so a stack port there can be taken by chance."""
    taken: dict[int, str] = {}
    for home, offset in {"default": 0, **STACK_OFFSETS}.items():
        s = config.load(config.shifted_stack_env(offset, home) if offset else {})
        ports = [getattr(s, name) for name in config.PORT_FIELDS] + [s.flink_metrics_port + 1]  # + TaskManager
        for port in ports:
            assert port < 32768, f"{home}: port {port} is in the ephemeral range"
            assert port not in taken, f"{home} and {taken.get(port)} both use port {port}"
            taken[port] = home


def test_only_a_bounded_run_in_this_process_commits_its_group_when_it_ends():
    """`tickflow run JOB --bounded` waits for the job, so it commits the group; a submitted or unbounded
    job is not waited for, so nothing is committed on its behalf (no Kafka is touched here: the commit
    happens only on entering the block)."""
    from argparse import Namespace
    from contextlib import nullcontext

    from tickflow.runtime.flink_runtime import local_bounded_run

    def chosen(bounded: bool, cluster: bool):
        return local_bounded_run(Namespace(bounded=bounded, cluster=cluster), "127.0.0.1:1", "g", ("t",))

    assert not isinstance(chosen(True, False), nullcontext)
    assert all(isinstance(chosen(b, c), nullcontext) for b, c in ((False, False), (True, True), (False, True)))


def test_the_effective_settings_mask_secrets_and_say_where_each_came_from():
    env = {"TICKFLOW_POSTGRES_PASSWORD": "hunter2", "TICKFLOW_KAFKA_PORT": "19092"}
    rows = {r["setting"]: r for r in config.effective(config.load(env), env)}
    assert rows["TICKFLOW_POSTGRES_PASSWORD"] == {"setting": "TICKFLOW_POSTGRES_PASSWORD", "value": "********",
                                                  "from": "environment"}
    assert rows["TICKFLOW_S3_SECRET_KEY"]["value"] == "********"
    assert rows["TICKFLOW_KAFKA_PORT"]["value"] == "19092" and rows["TICKFLOW_KAFKA_PORT"]["from"] == "environment"
    assert rows["TICKFLOW_S3_BUCKET"]["from"] == "default"
    assert rows["kafka_bootstrap"] == {"setting": "kafka_bootstrap", "value": "127.0.0.1:19092", "from": "derived"}
    assert not any("hunter2" in r["value"] for r in rows.values())
