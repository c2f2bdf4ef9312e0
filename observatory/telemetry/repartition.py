"""Migrations: turn a plain rollup table into a range-partitioned one, and back, keeping its rows.

The table is renamed aside, a new one made LIKE it (same columns, types, defaults), its
identity resumed where the old one was, and its constraints and indexes recreated
under their own names (so later Django migrations still find them). A partitioned
table's primary key must include the partition key: (id, minute) or (id, hour); the
unique constraints already do. Then the partitions that the rows need, the rows, and
the old table dropped. Django's model state is untouched: it still sees ``id`` as the
primary key, which stays unique because only the identity fills it.
PostgreSQL only; the migrations skip SQLite, whose tables stay plain.
"""

import re
from datetime import datetime, timedelta, timezone

from observatory.telemetry import rollup_partitions

AHEAD = timedelta(days=3)  # then retention.maintain() keeps them ahead


def partition(schema_editor, table: str) -> None:
    _rebuild(schema_editor, table, partitioned=True)


def unpartition(schema_editor, table: str) -> None:
    _rebuild(schema_editor, table, partitioned=False)


def _rebuild(schema_editor, table: str, partitioned: bool) -> None:
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    column, period = rollup_partitions.ROLLUP_TABLES[table]
    old = f"{table}_old"
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [table])
        if (cursor.fetchone()[0] == "p") == partitioned:
            return  # already so
        cursor.execute(f"ALTER TABLE {table} RENAME TO {old}")
        cursor.execute("SELECT attidentity FROM pg_attribute WHERE attrelid = %s::regclass AND attname = 'id'", [old])
        identity = {"a": "ALWAYS", "d": "BY DEFAULT"}[cursor.fetchone()[0]]
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [old])
        cursor.execute(f"SELECT last_value, is_called FROM {cursor.fetchone()[0]}")
        last_value, is_called = cursor.fetchone()
        # NOT NULLs come with LIKE (PostgreSQL 18 also lists them here, as 'n').
        cursor.execute("SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint"
                       " WHERE conrelid = %s::regclass AND contype IN ('p', 'u', 'f', 'c', 'x') ORDER BY conname",
                       [old])
        constraints = cursor.fetchall()
        cursor.execute(
            """SELECT ix.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i
               JOIN pg_class ix ON ix.oid = i.indexrelid
               WHERE i.indrelid = %s::regclass AND NOT EXISTS (
                   SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid)
               ORDER BY ix.relname""",
            [old],
        )
        indexes = cursor.fetchall()
        cursor.execute("SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute"
                       " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped", [old])
        columns = cursor.fetchone()[0]

        # Free the names for the new table; the old one is only read once more. Dropping the
        # identity drops its sequence, so the new one's gets the usual name.
        for name, _kind, _definition in constraints:
            cursor.execute(f"ALTER TABLE {old} DROP CONSTRAINT {name}")
        for name, _definition in indexes:
            cursor.execute(f"DROP INDEX {name}")
        cursor.execute(f"ALTER TABLE {old} ALTER COLUMN id DROP IDENTITY")

        partition_by = f" PARTITION BY RANGE ({column})" if partitioned else ""
        cursor.execute(f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING STORAGE INCLUDING COMMENTS)"
                       f"{partition_by}")
        cursor.execute(f"ALTER TABLE {table} ALTER COLUMN id ADD GENERATED {identity} AS IDENTITY")
        for name, kind, definition in constraints:
            if kind == "p":
                definition = f"PRIMARY KEY (id, {column})" if partitioned else "PRIMARY KEY (id)"
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
        for _name, definition in indexes:
            cursor.execute(re.sub(r" ON (ONLY )?\S+ USING ", f" ON {table} USING ", definition, count=1))

        if partitioned:
            cursor.execute(f"SELECT DISTINCT ({column} AT TIME ZONE 'UTC')::date FROM {old}")
            days = {row[0] for row in cursor.fetchall()}
            today = datetime.now(timezone.utc).date()
            days |= {today + timedelta(days=n) for n in range(AHEAD.days + 1)}
            # Made here, with this connection and inside the migration's transaction.
            for start in sorted({rollup_partitions.period_start(day, period) for day in days}):
                cursor.execute(rollup_partitions.create_sql(table, start))
        cursor.execute(f"INSERT INTO {table} ({columns}) OVERRIDING SYSTEM VALUE SELECT {columns} FROM {old}")
        cursor.execute(f"DROP TABLE {old}")
        cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s, %s)", [table, last_value, is_called])
    rollup_partitions.forget(table)
