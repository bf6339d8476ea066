"""Operator ids as Flink derives them from uids (MurmurHash3 x64 128, seed 0), and the savepoint error
that names tickflow's operators."""
from tickflow import cluster
from tickflow.operator_ids import murmur3_x64_128, operator_id


def test_murmur3_matches_the_published_reference_values():
    assert murmur3_x64_128(b"").hex() == "0" * 32
    assert murmur3_x64_128(b"The quick brown fox jumps over the lazy dog").hex() == "6c1b07bc7bbc4be347939ac4a93c437a"


def test_a_savepoint_that_does_not_fit_names_the_operator_by_uid_in_one_line():
    op = operator_id("indicators-jvm-series")
    output = ("org.apache.flink.client.program.ProgramInvocationException: The main method caused an error\n"
              "Caused by: java.lang.IllegalStateException: Failed to rollback to checkpoint/savepoint s3://x. "
              f"Cannot map checkpoint/savepoint state for operator {op} to the new program, because the operator "
              "is not available in the new program.\n\tat org.apache.flink...\n")
    line = cluster._root_cause(output)
    assert "'indicators-jvm-series'" in line and op in line and "\\n" not in line
