"""Schema migrations in ``sql/migrations``: numbered files, applied in order, recorded in the database.

A file ``NNN_name.sql`` is one migration. A first line ``-- requires: timescaledb`` makes it part of the
TimescaleDB layer: applied only where the extension is available, and applied later by a plain
``migrate`` once it becomes available. Statements run one by one outside a transaction (TimescaleDB's
continuous aggregates refuse to be created inside one), so every statement is written to be idempotent
and a migration interrupted half-way is finished by the next run. A database whose recorded schema is
newer than the files here is refused: an older tickflow must not write to it.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tickflow.runtime.config import PROJECT_ROOT

MIGRATIONS_DIR = PROJECT_ROOT / "sql" / "migrations"
LEDGER = "tickflow_schema_migrations"
_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
_REQUIRES = re.compile(r"^--\s*requires:\s*([a-z0-9_]+)\s*$", re.M)
_LOCK_ID = 0x7469636B  # pg_advisory_lock key: two migrators never interleave


class MigrationError(RuntimeError):
    """A migration cannot be applied; the message says why in one line."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    requires: str | None
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]

    @property
    def statements(self) -> list[str]:
        return split_statements(self.sql)


def split_statements(sql: str) -> list[str]:
    """Split SQL on top-level semicolons, keeping ``$$``-quoted bodies, string literals and comments intact;
    comment-only pieces are dropped."""
    out: list[str] = []
    buf: list[str] = []
    i, n = 0, len(sql)
    in_dollar = in_quote = False
    while i < n:
        c = sql[i]
        if not in_quote and sql.startswith("$$", i):
            in_dollar = not in_dollar
            buf.append("$$")
            i += 2
            continue
        if not in_dollar and c == "'":
            in_quote = not in_quote
        elif not in_dollar and not in_quote and sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end
            continue
        elif c == ";" and not in_dollar and not in_quote:
            out.append("".join(buf).strip())
            buf = []
            i += 1
            continue
        buf.append(c)
        i += 1
    out.append("".join(buf).strip())
    return [s for s in out if s]


def load(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migrations in ``directory``, in version order; a misnamed file or a repeated number is an error."""
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        m = _NAME.match(path.name)
        if not m:
            raise MigrationError(f"{path.name}: migration files are named NNN_name.sql")
        version = int(m.group(1))
        if version in found:
            raise MigrationError(f"{path.name}: version {version} is used twice")
        text = path.read_text()
        req = _REQUIRES.search(text.split("\n", 1)[0])
        found[version] = Migration(version, m.group(2), req.group(1) if req else None, text)
    return [found[v] for v in sorted(found)]


@dataclass(frozen=True)
class Plan:
    to_apply: list[Migration]
    skipped: list[Migration]   # need an extension this database lacks


def plan(migrations: list[Migration], applied: dict[int, str], extensions: set[str]) -> Plan:
    """What a run does, given the applied versions (version → checksum) and the available extensions.

    Refuses a database at a newer version than the files, and an applied migration whose file changed.
    """
    known = {m.version: m for m in migrations}
    newest_known = max(known, default=0)
    newer = sorted(v for v in applied if v not in known)
    if newer and newer[-1] > newest_known:
        raise MigrationError(f"the database schema is at version {newer[-1]}, newer than this tickflow's "
                             f"{newest_known}: upgrade tickflow before running it against this database")
    for v, checksum in applied.items():
        if v in known and known[v].checksum != checksum:
            raise MigrationError(f"migration {v:03d}_{known[v].name} changed after it was applied "
                                 "(write a new migration instead of editing an applied one)")
    pending = [m for m in migrations if m.version not in applied]
    return Plan([m for m in pending if m.requires is None or m.requires in extensions],
                [m for m in pending if m.requires is not None and m.requires not in extensions])


def connect(dsn: str):
    """A psycopg2 connection in autocommit mode, or one line saying why not."""
    import psycopg2

    try:
        conn = psycopg2.connect(dsn, connect_timeout=5)
    except psycopg2.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "connection failed"
        raise MigrationError(f"cannot reach PostgreSQL ({first})") from None
    conn.autocommit = True
    return conn


def migrate(conn, migrations: list[Migration] | None = None,
            log: Callable[[str], None] = print) -> list[Migration]:
    """Apply what is pending on ``conn``; returns what was applied."""
    migrations = load() if migrations is None else migrations
    with conn.cursor() as cur:
        cur.execute(f"""CREATE TABLE IF NOT EXISTS {LEDGER} (
            version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now())""")
        cur.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
        try:
            cur.execute(f"SELECT version, checksum FROM {LEDGER}")
            applied = dict(cur.fetchall())
            todo = plan(migrations, applied, _available_extensions(cur))
            for m in todo.skipped:
                log(f"skipped {m.version:03d}_{m.name}: needs the {m.requires} extension, not available here")
            for m in todo.to_apply:
                for statement in m.statements:
                    try:
                        cur.execute(statement)
                    except Exception as exc:  # psycopg2.Error, kept generic for the message
                        first = str(exc).strip().splitlines()[0]
                        raise MigrationError(f"{m.version:03d}_{m.name} failed: {first}") from None
                cur.execute(f"INSERT INTO {LEDGER} (version, name, checksum) VALUES (%s, %s, %s)",
                            (m.version, m.name, m.checksum))
                log(f"applied {m.version:03d}_{m.name}")
            if not todo.to_apply:
                log("schema up to date")
            return todo.to_apply
        finally:
            cur.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))


def pending(conn, migrations: list[Migration] | None = None) -> list[Migration]:
    """The migrations ``conn``'s database lacks and could apply (what `tickflow db migrate` would do)."""
    migrations = load() if migrations is None else migrations
    applied = {version: checksum for version, _, _, checksum in _ledger(conn)}
    with conn.cursor() as cur:
        return plan(migrations, applied, _available_extensions(cur)).to_apply


def _available_extensions(cur) -> set[str]:
    cur.execute("SELECT name FROM pg_available_extensions")
    return {r[0] for r in cur.fetchall()}


def _ledger(conn) -> list[tuple[int, str, str, str]]:
    """(version, name, applied_at, checksum) of every applied migration, none before the first."""
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s)", (LEDGER,))
        if cur.fetchone()[0] is None:
            return []
        cur.execute(f"SELECT version, name, applied_at::text, checksum FROM {LEDGER} ORDER BY version")
        return cur.fetchall()


def status(conn) -> list[dict]:
    """Every migration as `tickflow db status` shows it: the applied ones in order (applied_at set), then
    the known ones not applied yet (applied_at None), each with the extension it requires, if any."""
    known = {m.version: m for m in load()}
    rows = [{"version": v, "name": name, "applied_at": at,
             "requires": known[v].requires if v in known else None} for v, name, at, _ in _ledger(conn)]
    applied = {r["version"] for r in rows}
    return rows + [{"version": m.version, "name": m.name, "applied_at": None, "requires": m.requires}
                   for m in known.values() if m.version not in applied]
