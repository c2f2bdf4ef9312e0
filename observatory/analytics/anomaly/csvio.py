"""Parsing of ``timestamp,value`` CSV input for the detector (pure)."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable

import numpy as np


class CsvFormatError(ValueError):
    """Bad input; ``line`` is the 1-based line number in the file (1 = header)."""

    def __init__(self, line: int, message: str):
        super().__init__(f"line {line}: {message}")
        self.line = line


@dataclass
class ParsedSeries:
    timestamps: np.ndarray  # POSIX seconds (naive times are taken as UTC)
    values: np.ndarray
    raw_timestamps: list[str]  # as written, to echo them back unchanged
    raw_values: list[str]
    warnings: list[str] = field(default_factory=list)  # repeated / backward timestamps


def parse_timestamp(text: str) -> float:
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def parse_series_csv(lines: Iterable[str]) -> ParsedSeries:
    """Parse CSV text lines with a header naming ``timestamp`` and ``value`` columns.

    Raises CsvFormatError naming the line for a missing column, a short row, or a
    timestamp / value that does not parse (or is not finite). Timestamps that repeat or
    step back are kept in row order and reported in ``warnings``.
    """
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        raise CsvFormatError(1, "empty file, expected a header 'timestamp,value'")
    names = [h.strip().lower() for h in header]
    missing = [c for c in ("timestamp", "value") if c not in names]
    if missing:
        raise CsvFormatError(1, f"header lacks column(s) {', '.join(missing)} (got {','.join(header)})")
    ti, vi = names.index("timestamp"), names.index("value")
    out = ParsedSeries(np.zeros(0), np.zeros(0), [], [])
    times, values = [], []
    for row in reader:
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) <= max(ti, vi):
            raise CsvFormatError(line, f"expected at least {max(ti, vi) + 1} fields, got {len(row)}")
        raw_t, raw_v = row[ti].strip(), row[vi].strip()
        try:
            t = parse_timestamp(raw_t)
        except ValueError:
            raise CsvFormatError(line, f"unparsable timestamp {raw_t!r}") from None
        try:
            v = float(raw_v)
        except ValueError:
            raise CsvFormatError(line, f"unparsable value {raw_v!r}") from None
        if not math.isfinite(v):
            raise CsvFormatError(line, f"value {raw_v!r} is not a finite number")
        if times and t <= times[-1]:
            how = "repeats" if t == times[-1] else "steps back from"
            out.warnings.append(f"line {line}: timestamp {raw_t} {how} the previous row's; scored in row order")
        times.append(t)
        values.append(v)
        out.raw_timestamps.append(raw_t)
        out.raw_values.append(raw_v)
    out.timestamps = np.array(times, np.float64)
    out.values = np.array(values, np.float64)
    return out
