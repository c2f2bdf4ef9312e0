"""The rollup tables' partitions: daily for minute rollups, monthly for hourly rollups.

On PostgreSQL the minute rollups (span, series, SLI) are range-partitioned by day on
``minute`` and the hourly rollups by month on ``hour``, so retention drops whole
partitions instead of deleting rows. SQLite keeps plain tables: all here is a no-op.

A write must never find its partition missing. retention.maintain() makes them ahead
of time; the jobs make the ones they are about to write before taking any lock on the
table (creating a partition locks its parent ACCESS EXCLUSIVE); and every ORM insert
into these models (save, bulk_create) makes them first, for back-fills and late data.
Partitions known to exist are remembered per process, so that costs nothing after the
first write of a day.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone

import psycopg
from django.db import DEFAULT_DB_ALIAS, DatabaseError, IntegrityError, connections, models, router, transaction

from observatory.telemetry.partitions import child_tables

DAY, MONTH = "day", "month"
ROLLUP_TABLES = {  # table: (partition key column, partition period)
    "telemetry_span_minute": ("minute", DAY),
    "telemetry_series_minute": ("minute", DAY),
    "slos_sliminute": ("minute", DAY),
    "telemetry_span_hour": ("hour", MONTH),
    "telemetry_series_hour": ("hour", MONTH),
}
MINUTE_TABLES = tuple(t for t, (_, period) in ROLLUP_TABLES.items() if period == DAY)
HOUR_TABLES = tuple(t for t, (_, period) in ROLLUP_TABLES.items() if period == MONTH)

_known: set[tuple[str, date]] = set()  # (table, period start) committed to exist, as far as this process knows


def period_start(at: date | datetime, period: str) -> date:
    day = at.astimezone(timezone.utc).date() if isinstance(at, datetime) else at
    return day if period == DAY else day.replace(day=1)


def period_end(start: date, period: str) -> date:
    if period == DAY:
        return start + timedelta(days=1)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def partition_name(table: str, start: date) -> str:
    return f"{table}_p{start:%Y%m%d}" if ROLLUP_TABLES[table][1] == DAY else f"{table}_p{start:%Y%m}"


def create_sql(table: str, start: date) -> str:
    column, period = ROLLUP_TABLES[table]
    # Bounds in UTC whatever the session's time zone, like the periods computed here.
    return (f"CREATE TABLE IF NOT EXISTS {partition_name(table, start)} PARTITION OF {table} FOR VALUES"
            f" FROM ('{start.isoformat()} 00:00:00+00') TO ('{period_end(start, period).isoformat()} 00:00:00+00')")


def forget(table: str) -> None:
    """What this process knew of the table's partitions no longer holds (rebuilt, or one dropped elsewhere)."""
    _known.difference_update({key for key in _known if key[0] == table})


def ensure(table: str, starts: Iterable[date], using: str = DEFAULT_DB_ALIAS) -> list[str]:
    """Create the partitions of ``table`` starting on ``starts`` that do not exist yet; returns those created."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return []
    missing = {partition_name(table, s): s for s in sorted(set(starts)) if (table, s) not in _known}
    if not missing:
        return []
    created = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname FROM pg_class"
                       " WHERE relname = ANY(%s) AND relnamespace = current_schema()::regnamespace", [list(missing)])
        existing = {row[0] for row in cursor.fetchall()}
        for name, start in missing.items():
            if name in existing:
                continue
            try:
                with transaction.atomic(using=using):  # a savepoint: a lost race must not abort the caller's work
                    cursor.execute(create_sql(table, start))
                created.append(name)
            except DatabaseError as error:
                # Another session created it meanwhile (both saw it missing): it exists, which is all we need.
                if not isinstance(error.__cause__, (psycopg.errors.DuplicateTable, psycopg.errors.UniqueViolation)):
                    raise
    # Remember them only once committed: a rolled-back transaction takes its partitions with it.
    found = {(table, s) for s in missing.values()}
    transaction.on_commit(lambda: _known.update(found), using=using)
    return created


def ensure_for_times(table: str, times: Iterable[datetime], using: str = DEFAULT_DB_ALIAS) -> list[str]:
    period = ROLLUP_TABLES[table][1]
    return ensure(table, {period_start(t, period) for t in times}, using)


def ensure_between(table: str, first: datetime, last: datetime, using: str = DEFAULT_DB_ALIAS) -> list[str]:
    """Every partition of ``table`` from the one holding ``first`` to the one holding ``last``."""
    period = ROLLUP_TABLES[table][1]
    start, starts = period_start(first, period), []
    while start <= period_start(last, period):
        starts.append(start)
        start = period_end(start, period)
    return ensure(table, starts, using)


def ensure_range(first: date, last: date, using: str = DEFAULT_DB_ALIAS) -> list[str]:
    """The daily partitions of first..last (inclusive) and the monthly ones of their months, for every rollup table."""
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    created = []
    for table, (_, period) in ROLLUP_TABLES.items():
        created += ensure(table, {period_start(day, period) for day in days}, using)
    return created


def list_partitions(using: str = DEFAULT_DB_ALIAS) -> dict[str, list[date]]:
    """{rollup table: its partitions' period starts, sorted}; empty on SQLite."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return {}
    with connection.cursor() as cursor:
        found: dict[str, list[date]] = {table: [] for table in ROLLUP_TABLES}
        for parent, child in child_tables(ROLLUP_TABLES, cursor):
            suffix = child.removeprefix(f"{parent}_p")
            try:
                start = datetime.strptime(suffix, "%Y%m%d" if ROLLUP_TABLES[parent][1] == DAY else "%Y%m").date()
            except ValueError:
                continue  # not one of ours
            found[parent].append(start)
    return {table: sorted(starts) for table, starts in found.items()}


def drop_before(minute_cutoff: date, hour_cutoff: date, using: str = DEFAULT_DB_ALIAS) -> list[str]:
    """Drop the partitions that end on or before their table's cutoff (a month only once all of it is past)."""
    dropped = []
    with connections[using].cursor() as cursor:
        for table, starts in list_partitions(using).items():
            period = ROLLUP_TABLES[table][1]
            cutoff = minute_cutoff if period == DAY else hour_cutoff
            for start in starts:
                if period_end(start, period) <= cutoff:
                    cursor.execute(f"DROP TABLE IF EXISTS {partition_name(table, start)}")
                    _known.discard((table, start))
                    dropped.append(partition_name(table, start))
    return dropped


def _prepare(model, objs, using: str) -> None:
    if connections[using].vendor != "postgresql":
        return
    column = ROLLUP_TABLES[model._meta.db_table][0]
    times = [getattr(obj, column) for obj in objs]
    ensure_for_times(model._meta.db_table, [t for t in times if t is not None], using)


class _MissingPartition:
    """Around an insert: if a partition this process believed in is gone after all (dropped by another
    process), forget what it knew of the table, so that the next attempt makes the partition."""

    def __init__(self, model):
        self.table = model._meta.db_table

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if isinstance(error, IntegrityError) and isinstance(error.__cause__, psycopg.errors.CheckViolation):
            forget(self.table)
        return False  # the error still reaches the caller: the write did not happen


class PartitionedQuerySet(models.QuerySet):
    """bulk_create that makes the rows' partitions first."""

    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        _prepare(self.model, objs, self._db or router.db_for_write(self.model))
        with _MissingPartition(self.model):
            return super().bulk_create(objs, *args, **kwargs)


class PartitionedModel:
    """Mixin for a rollup model (with ``objects = PartitionedQuerySet.as_manager()``): save(), so also
    objects.create(), makes the row's partition first."""

    def save(self, *args, **kwargs):
        _prepare(type(self), [self], kwargs.get("using") or router.db_for_write(type(self), instance=self))
        with _MissingPartition(type(self)):
            super().save(*args, **kwargs)
