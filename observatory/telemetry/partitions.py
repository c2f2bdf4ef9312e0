"""The raw telemetry tables and their daily partitions.

On PostgreSQL points, histogram points and spans are range-partitioned by day:
partitions are created ahead of time and expired ones are dropped whole (no row
deletes). SQLite, the embedded default, gets the same tables unpartitioned.
"""

from datetime import date, datetime, timedelta, timezone

from django.db import connection

RAW_TABLES = {"telemetry_point": "time", "telemetry_histogram_point": "time", "telemetry_span": "start_time"}

_POSTGRES_DDL = [
    """CREATE TABLE telemetry_point (
        series_id bigint NOT NULL,
        time timestamptz NOT NULL,
        start_time timestamptz,
        value double precision NOT NULL,
        PRIMARY KEY (series_id, time)
    ) PARTITION BY RANGE (time)""",
    "CREATE INDEX telemetry_point_time ON telemetry_point USING brin (time)",
    """CREATE TABLE telemetry_histogram_point (
        series_id bigint NOT NULL,
        time timestamptz NOT NULL,
        start_time timestamptz,
        count bigint NOT NULL,
        sum double precision,
        min double precision,
        max double precision,
        bounds double precision[] NOT NULL,
        counts bigint[] NOT NULL,
        PRIMARY KEY (series_id, time)
    ) PARTITION BY RANGE (time)""",
    "CREATE INDEX telemetry_histogram_point_time ON telemetry_histogram_point USING brin (time)",
    """CREATE TABLE telemetry_span (
        region_id bigint NOT NULL,
        trace_id bytea NOT NULL,
        span_id bytea NOT NULL,
        parent_span_id bytea,
        service text NOT NULL,
        operation text NOT NULL,
        kind smallint NOT NULL,
        status_code smallint NOT NULL,
        status_message text NOT NULL,
        start_time timestamptz NOT NULL,
        duration_ms double precision NOT NULL,
        http_route text,
        http_status_code integer,
        attributes jsonb NOT NULL,
        PRIMARY KEY (trace_id, span_id, start_time)
    ) PARTITION BY RANGE (start_time)""",
    "CREATE INDEX telemetry_span_start ON telemetry_span USING brin (start_time)",
]

_SQLITE_DDL = [
    """CREATE TABLE telemetry_point (
        series_id integer NOT NULL, time datetime NOT NULL, start_time datetime, value real NOT NULL,
        PRIMARY KEY (series_id, time))""",
    "CREATE INDEX telemetry_point_time ON telemetry_point (time)",
    """CREATE TABLE telemetry_histogram_point (
        series_id integer NOT NULL, time datetime NOT NULL, start_time datetime, count integer NOT NULL,
        sum real, min real, max real, bounds text NOT NULL, counts text NOT NULL,
        PRIMARY KEY (series_id, time))""",
    "CREATE INDEX telemetry_histogram_point_time ON telemetry_histogram_point (time)",
    """CREATE TABLE telemetry_span (
        region_id integer NOT NULL, trace_id blob NOT NULL, span_id blob NOT NULL, parent_span_id blob,
        service text NOT NULL, operation text NOT NULL, kind integer NOT NULL, status_code integer NOT NULL,
        status_message text NOT NULL, start_time datetime NOT NULL, duration_ms real NOT NULL,
        http_route text, http_status_code integer, attributes text NOT NULL,
        PRIMARY KEY (trace_id, span_id, start_time))""",
    "CREATE INDEX telemetry_span_start ON telemetry_span (start_time)",
]


def create_raw_tables(schema_editor) -> None:
    ddl = _POSTGRES_DDL if schema_editor.connection.vendor == "postgresql" else _SQLITE_DDL
    for statement in ddl:
        schema_editor.execute(statement)
    if schema_editor.connection.vendor == "postgresql":
        today = datetime.now(timezone.utc).date()
        for statement in _partition_statements(today - timedelta(days=1), today + timedelta(days=3)):
            schema_editor.execute(statement)


def drop_raw_tables(schema_editor) -> None:
    for table in RAW_TABLES:
        schema_editor.execute(f"DROP TABLE IF EXISTS {table}")


def partition_name(table: str, day: date) -> str:
    return f"{table}_p{day:%Y%m%d}"


def _partition_statements(first: date, last: date) -> list[str]:
    statements = []
    day = first
    while day <= last:
        for table in RAW_TABLES:
            statements.append(
                f"CREATE TABLE IF NOT EXISTS {partition_name(table, day)} PARTITION OF {table} "
                f"FOR VALUES FROM ('{day.isoformat()}') TO ('{(day + timedelta(days=1)).isoformat()}')"
            )
        day += timedelta(days=1)
    return statements


def ensure_partitions(first: date, last: date) -> None:
    """Create the daily partitions covering first..last (inclusive); a no-op on SQLite."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for statement in _partition_statements(first, last):
            cursor.execute(statement)


def child_tables(parents, cursor) -> list[tuple[str, str]]:
    """(parent, partition) table names of these partitioned tables (PostgreSQL)."""
    cursor.execute(
        """SELECT parent.relname, child.relname FROM pg_inherits
           JOIN pg_class parent ON parent.oid = pg_inherits.inhparent
           JOIN pg_class child ON child.oid = pg_inherits.inhrelid
           WHERE parent.relname = ANY(%s)""",
        [list(parents)],
    )
    return cursor.fetchall()


def list_partitions() -> dict[str, list[date]]:
    if connection.vendor != "postgresql":
        return {}
    with connection.cursor() as cursor:
        found: dict[str, list[date]] = {table: [] for table in RAW_TABLES}
        for parent, child in child_tables(RAW_TABLES, cursor):
            suffix = child.rsplit("_p", 1)[-1]
            try:
                found[parent].append(datetime.strptime(suffix, "%Y%m%d").date())
            except ValueError:
                continue  # not one of ours
        return {table: sorted(days) for table, days in found.items()}


def drop_partitions_before(cutoff: date) -> list[str]:
    """Drop whole daily partitions that end on or before ``cutoff``; returns their names."""
    dropped = []
    with connection.cursor() as cursor:
        for table, days in list_partitions().items():
            for day in days:
                if day + timedelta(days=1) <= cutoff:
                    name = partition_name(table, day)
                    cursor.execute(f"DROP TABLE IF EXISTS {name}")
                    dropped.append(name)
    return dropped


def delete_rows_before(cutoff: datetime) -> int:
    """The SQLite fallback for retention: no partitions, so rows are deleted."""
    deleted = 0
    with connection.cursor() as cursor:
        for table, column in RAW_TABLES.items():
            cursor.execute(f"DELETE FROM {table} WHERE {column} < %s", [cutoff])
            deleted += cursor.rowcount
    return deleted
