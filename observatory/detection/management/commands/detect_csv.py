import csv
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from observatory.analytics.anomaly import ALERT_THRESHOLD, CsvFormatError, parse_series_csv, score_series


def detect_file(source: Path, target: Path) -> tuple[int, int, list[str]]:
    """Score a timestamp,value CSV with the production detector; return (rows, alerts, warnings)."""
    with open(source, newline="") as handle:
        series = parse_series_csv(handle)
    scores = score_series(series.timestamps, series.values)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["timestamp", "value", "anomaly_score"])
        for raw_t, raw_v, score in zip(series.raw_timestamps, series.raw_values, scores):
            writer.writerow([raw_t, raw_v, f"{score:.6f}"])
    return len(scores), int((scores >= ALERT_THRESHOLD).sum()), series.warnings


class Command(BaseCommand):
    help = ("Run the production anomaly detector over a timestamp,value CSV and write "
            "timestamp,value,anomaly_score (scores in [0, 1], causal, one series from scratch).")

    def add_arguments(self, parser):
        parser.add_argument("input", type=Path, help="CSV with a header naming timestamp and value columns")
        parser.add_argument("output", type=Path, help="where to write timestamp,value,anomaly_score")

    def handle(self, *args, input, output, **options):
        try:
            rows, alerts, warnings = detect_file(input, output)
        except CsvFormatError as error:
            raise CommandError(f"{input}: {error}") from None
        except OSError as error:
            raise CommandError(f"{input}: {error.strerror or error}") from None
        for warning in warnings:
            self.stderr.write(f"warning: {input}: {warning}")
        self.stdout.write(f"{output}: {rows} rows scored, {alerts} at or above the alert threshold {ALERT_THRESHOLD}")
