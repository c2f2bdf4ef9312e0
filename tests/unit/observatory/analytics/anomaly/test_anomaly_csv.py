import pytest

from observatory.analytics.anomaly import CsvFormatError, parse_series_csv


def parse(text):
    return parse_series_csv(text.splitlines(keepends=True))


def test_parses_timestamps_and_values_in_row_order():
    series = parse("timestamp,value\n2015-01-01 00:00:00,1.5\n2015-01-01 00:05:00,-2\n\n2015-01-01 00:10:00,3e2\n")
    assert list(series.values) == [1.5, -2.0, 300.0]
    assert list(series.timestamps[1:] - series.timestamps[:-1]) == [300.0, 300.0]
    assert series.timestamps[0] == 1420070400.0  # naive times are UTC
    assert series.raw_timestamps[0] == "2015-01-01 00:00:00" and series.raw_values[2] == "3e2"
    assert series.warnings == []


def test_columns_are_found_by_name_whatever_their_order():
    series = parse("value,host,timestamp\n4,a,2015-01-01T00:00:00+01:00\n")
    assert list(series.values) == [4.0] and series.timestamps[0] == 1420066800.0


@pytest.mark.parametrize("text, message", [
    ("", "line 1: empty file"),
    ("time,value\n2015-01-01 00:00:00,1\n", "line 1: header lacks column(s) timestamp"),
    ("timestamp,val\n", "line 1: header lacks column(s) value"),
    ("timestamp,value\n2015-01-01 00:00:00,1\n2015-01-01 00:05:00,abc\n", "line 3: unparsable value 'abc'"),
    ("timestamp,value\n2015-01-01 00:00:00,1\n2015-01-01 00:05:00,nan\n", "line 3: value 'nan' is not a finite"),
    ("timestamp,value\n2015-13-01 00:00:00,1\n", "line 2: unparsable timestamp '2015-13-01 00:00:00'"),
    ("timestamp,value\n2015-01-01 00:00:00,1\n2015-01-01 00:05:00\n", "line 3: expected at least 2 fields"),
])
def test_bad_input_names_the_line(text, message):
    with pytest.raises(CsvFormatError) as caught:
        parse(text)
    assert str(caught.value).startswith(message)


def test_repeated_and_backward_timestamps_are_kept_with_warnings():
    series = parse("timestamp,value\n2015-01-01 00:05:00,1\n2015-01-01 00:05:00,2\n2015-01-01 00:00:00,3\n"
                   "2015-01-01 00:10:00,4\n")
    assert list(series.values) == [1.0, 2.0, 3.0, 4.0]
    assert len(series.warnings) == 2
    assert series.warnings[0].startswith("line 3: timestamp 2015-01-01 00:05:00 repeats")
    assert series.warnings[1].startswith("line 4: timestamp 2015-01-01 00:00:00 steps back")
