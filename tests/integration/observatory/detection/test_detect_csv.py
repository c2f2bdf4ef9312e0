import csv
import io

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from observatory.analytics.anomaly import score_series
from observatory.analytics.anomaly.csvio import parse_timestamp


def write_series(path, n=600, spike=500, header="timestamp,value"):
    rng = np.random.default_rng(0)
    values = 10 + rng.normal(size=n)
    values[spike] += 40
    start = parse_timestamp("2024-03-01 00:00:00")
    rows = [header] + [f"{np.datetime_as_string(np.datetime64(int(start + 300 * i), 's')).replace('T', ' ')},"
                       f"{v:.4f}" for i, v in enumerate(values)]
    path.write_text("\n".join(rows) + "\n")
    return values


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("detect_csv", *map(str, args), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def read_output(path):
    with open(path, newline="") as handle:
        return list(csv.reader(handle))


def test_writes_one_scored_row_per_input_row_with_the_production_scores(tmp_path):
    source, target = tmp_path / "in.csv", tmp_path / "out" / "scores.csv"
    values = write_series(source)
    out, err = run(source, target)
    rows = read_output(target)
    assert rows[0] == ["timestamp", "value", "anomaly_score"]
    assert len(rows) == 601 and rows[1][0] == "2024-03-01 00:00:00"
    scores = np.array([float(r[2]) for r in rows[1:]])
    assert np.all((scores >= 0) & (scores <= 1))
    times = np.array([parse_timestamp(r[0]) for r in rows[1:]])
    expected = score_series(times, np.array([float(r[1]) for r in rows[1:]]))
    np.testing.assert_allclose(scores, expected, atol=1e-6)
    assert scores[500] >= 0.5 and "600 rows scored" in out and err == ""


def test_bad_header_is_a_command_error(tmp_path):
    source = tmp_path / "in.csv"
    write_series(source, header="time,value")
    with pytest.raises(CommandError, match="line 1: header lacks column"):
        run(source, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


def test_bad_value_names_its_line(tmp_path):
    source = tmp_path / "in.csv"
    write_series(source)
    lines = source.read_text().splitlines()
    lines[57] = lines[57].split(",")[0] + ",twelve"
    source.write_text("\n".join(lines) + "\n")
    with pytest.raises(CommandError, match="line 58: unparsable value 'twelve'"):
        run(source, tmp_path / "out.csv")


def test_unparsable_timestamp_names_its_line(tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("timestamp,value\n2024-03-01 00:00:00,1\nyesterday,2\n")
    with pytest.raises(CommandError, match="line 3: unparsable timestamp 'yesterday'"):
        run(source, tmp_path / "out.csv")


def test_repeated_and_backward_timestamps_warn_but_are_scored(tmp_path):
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_text("timestamp,value\n2024-03-01 00:05:00,1\n2024-03-01 00:05:00,2\n"
                      "2024-03-01 00:00:00,3\n2024-03-01 00:10:00,4\n")
    out, err = run(source, target)
    assert [r[:2] for r in read_output(target)[1:]] == [
        ["2024-03-01 00:05:00", "1"], ["2024-03-01 00:05:00", "2"], ["2024-03-01 00:00:00", "3"],
        ["2024-03-01 00:10:00", "4"]]
    assert "line 3: timestamp 2024-03-01 00:05:00 repeats" in err
    assert "line 4: timestamp 2024-03-01 00:00:00 steps back" in err


def test_missing_input_file_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        run(tmp_path / "absent.csv", tmp_path / "out.csv")
