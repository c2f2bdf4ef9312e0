"""Which partition a rollup row belongs to: UTC days for minutes, UTC months for hours."""

from datetime import date, datetime, timedelta, timezone

from observatory.telemetry.rollup_partitions import DAY, MONTH, partition_name, period_end, period_start


def test_periods_are_utc_days_and_months():
    late_evening_in_new_york = datetime(2026, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert period_start(late_evening_in_new_york, DAY) == date(2027, 1, 1)  # already the next day in UTC
    assert period_start(late_evening_in_new_york, MONTH) == date(2027, 1, 1)
    assert period_end(date(2026, 12, 1), MONTH) == date(2027, 1, 1)
    assert period_end(date(2028, 2, 1), MONTH) == date(2028, 3, 1)
    assert period_end(date(2028, 2, 29), DAY) == date(2028, 3, 1)


def test_partition_names_follow_the_period():
    assert partition_name("telemetry_span_minute", date(2026, 3, 4)) == "telemetry_span_minute_p20260304"
    assert partition_name("slos_sliminute", date(2026, 3, 4)) == "slos_sliminute_p20260304"
    assert partition_name("telemetry_series_hour", date(2026, 3, 1)) == "telemetry_series_hour_p202603"
