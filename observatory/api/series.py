from datetime import datetime, timedelta

from django.utils import timezone
from ninja import Query, Schema
from ninja.errors import HttpError
from pydantic import Field

from observatory.telemetry.queries import query_series


class SeriesQuery(Schema):
    name: str = Field(..., description="metric name, e.g. observatory.replication.lag")
    region: str | None = Field(None, description="region name; all regions when omitted")
    attr: list[str] = Field(default_factory=list, description="attribute filters as key=value, repeatable")
    start: datetime | None = Field(None, description="ISO 8601; default: one hour before end")
    end: datetime | None = Field(None, description="ISO 8601; default: now")
    step: int = Field(60, description="seconds per point, a multiple of 60")


class SeriesOut(Schema):
    fingerprint: str
    region: str
    name: str
    kind: str
    unit: str
    service: str
    attributes: dict
    aggregation: str
    points: list[tuple[datetime, float]]


class SeriesResponse(Schema):
    start: datetime
    end: datetime
    step: int
    series: list[SeriesOut]


def _parse_attributes(pairs: list[str]) -> dict[str, str]:
    parsed = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise HttpError(400, f"attr: expected key=value, got {pair!r}")
        parsed[key] = value
    return parsed


def register(api):
    @api.get("/series", response=SeriesResponse, summary="Metric series from minute rollups", tags=["telemetry"])
    def get_series(request, query: Query[SeriesQuery]):
        end = query.end or timezone.now()
        start = query.start or end - timedelta(hours=1)
        if start.tzinfo is None or end.tzinfo is None:
            raise HttpError(400, "start and end must include a time zone (e.g. 2026-11-22T10:00:00Z)")
        found = query_series(query.name, start, end, query.step, query.region, _parse_attributes(query.attr))
        return {
            "start": start, "end": end, "step": query.step,
            "series": [{**s.__dict__, "fingerprint": str(s.fingerprint)} for s in found],
        }
