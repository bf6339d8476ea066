"""The wiring of a job whose stateful step is Python (the data-quality job): a SQL table
becomes a keyed DataStream, a Python ``KeyedProcessFunction`` turns each row into ``(kind, key, value)``
rows, and each kind goes to its own raw Kafka sink table through SQL."""
from __future__ import annotations

from collections.abc import Callable, Mapping


def keyed_python_stage(t_env, table, key: Callable, function, uid: str, name: str, view: str,
                       sinks: Mapping[str, str]):
    """Route ``table`` (a table's name, or a DataStream of rows) through ``function`` keyed by ``key(row)``
    — a DataStream keeps its watermarks, where a table made from a DataStream would drop them unless it
    declared a rowtime; ``sinks`` maps an output kind to the
    sink table (columns ``k BYTES, v BYTES``) that receives it. Returns the statement set, attached to
    the DataStream graph. ``uid`` is the operator's state identity (savepoints map state by it)."""
    from pyflink.common import Types

    out_type = Types.ROW_NAMED(["kind", "k", "v"], [Types.STRING(), Types.PRIMITIVE_ARRAY(Types.BYTE()),
                                                   Types.PRIMITIVE_ARRAY(Types.BYTE())])
    rows = t_env.to_data_stream(t_env.from_path(table)) if isinstance(table, str) else table
    out = (rows.key_by(key, key_type=Types.STRING())
           .process(function, output_type=out_type)
           .uid(uid).name(name))
    t_env.create_temporary_view(view, t_env.from_data_stream(out))
    stmt_set = t_env.create_statement_set()
    for kind, sink in sinks.items():
        stmt_set.add_insert_sql(f"INSERT INTO {sink} SELECT k, v FROM {view} WHERE kind = '{kind}'")
    stmt_set.attach_as_datastream()
    return stmt_set
