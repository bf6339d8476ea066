"""The migration runner's pure parts: splitting SQL, reading the files, planning what a run applies."""
import pytest

from tickflow.migrations import Migration, MigrationError, load, plan, split_statements


def test_split_statements_keeps_dollar_quoted_bodies_and_literals_whole():
    sql = """-- a comment; with a semicolon
CREATE TABLE a (x int);
INSERT INTO a VALUES (';');
CREATE PROCEDURE p() LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM a; -- inside the body
END
$$;
"""
    assert split_statements(sql) == [
        "CREATE TABLE a (x int)",
        "INSERT INTO a VALUES (';')",
        "CREATE PROCEDURE p() LANGUAGE plpgsql AS $$\nBEGIN\n    DELETE FROM a; -- inside the body\nEND\n$$",
    ]


def test_project_migrations_are_numbered_and_only_the_timescaledb_layer_needs_the_extension():
    migrations = load()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert {m.name: m.requires for m in migrations}["timescaledb"] == "timescaledb"
    assert migrations[0].requires is None
    assert all(m.statements for m in migrations)


def test_load_refuses_a_misnamed_file(tmp_path):
    (tmp_path / "1_tables.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="NNN_name.sql"):
        load(tmp_path)


M1 = Migration(1, "tables", None, "CREATE TABLE a (x int);")
M2 = Migration(2, "timescaledb", "timescaledb", "-- requires: timescaledb\nSELECT 1;")


def test_plan_on_an_empty_database_without_the_extension_applies_the_plain_layer_and_skips_the_rest():
    p = plan([M1, M2], {}, {"plpgsql"})
    assert (p.to_apply, p.skipped) == ([M1], [M2])


def test_plan_applies_the_timescaledb_layer_once_the_extension_appears():
    p = plan([M1, M2], {1: M1.checksum}, {"timescaledb"})
    assert (p.to_apply, p.skipped) == ([M2], [])


def test_plan_with_everything_applied_does_nothing():
    p = plan([M1, M2], {1: M1.checksum, 2: M2.checksum}, {"timescaledb"})
    assert (p.to_apply, p.skipped) == ([], [])


def test_plan_refuses_a_database_at_a_newer_version():
    with pytest.raises(MigrationError, match="schema is at version 3, newer than this tickflow's 2"):
        plan([M1, M2], {1: M1.checksum, 2: M2.checksum, 3: "x"}, set())


def test_plan_refuses_an_applied_migration_whose_file_changed():
    with pytest.raises(MigrationError, match="001_tables changed after it was applied"):
        plan([M1, M2], {1: "something else"}, set())
