"""The configuration the local stack writes for its Kafka broker and PostgreSQL server (no process started)."""
from __future__ import annotations

import dataclasses

from tickflow import stack
from tickflow.runtime import config
from tickflow.runtime.kafka_transactions import TRANSACTION_TIMEOUT_MS


def test_the_local_broker_accepts_the_sinks_transactions():
    props = stack.kafka_properties(config.load())
    [line] = [l for l in props.splitlines() if l.startswith("transaction.max.timeout.ms=")]
    assert int(line.split("=")[1]) == stack.KAFKA_TRANSACTION_MAX_TIMEOUT_MS >= TRANSACTION_TIMEOUT_MS


def test_a_broker_started_with_an_older_server_properties_is_restarted_by_up(tmp_path):
    s = dataclasses.replace(config.load(), home=tmp_path)
    kafka = stack.service(s, "kafka")
    props = tmp_path / "kafka" / "server.properties"
    assert kafka.outdated() is None                                  # never started here
    props.parent.mkdir()
    props.write_text(stack.kafka_properties(s))
    assert kafka.outdated() is None                                  # this version's
    props.write_text(stack.kafka_properties(s).replace(f"={stack.KAFKA_TRANSACTION_MAX_TIMEOUT_MS}", "=900000"))
    assert kafka.outdated() == "its server.properties is an older version's"


def test_postgres_trusts_no_one_on_the_socket():
    files = stack.postgres_auth_files("alice")
    rules = [line.split() for line in files["pg_hba.conf"].splitlines() if line and not line.startswith("#")]
    assert all("trust" not in rule for rule in rules)
    assert rules == [["local", "all", "postgres", "peer", "map=stack"],      # the superuser: the server's OS user
                     ["local", "all", "all", "scram-sha-256"],               # every other role: its password
                     ["host", "all", "all", "127.0.0.1/32", "scram-sha-256"],
                     ["host", "all", "all", "::1/128", "scram-sha-256"]]
    idents = [line.split() for line in files["pg_ident.conf"].splitlines() if line and not line.startswith("#")]
    assert idents == [["stack", "alice", "postgres"]]
