from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from observatory.ops import checks
from observatory.selfmetrics import render_metrics


@never_cache
@require_GET
def healthz(request):
    db_ok, db = checks.check_database()
    broker_ok, broker = checks.check_broker()
    healthy = db_ok and broker_ok
    body = {
        "status": "ok" if healthy else "unavailable",
        "checks": {
            "database": {"ok": db_ok, **db},
            "broker": {"ok": broker_ok, **broker},
            "scheduler": checks.describe_scheduler() if db_ok else {"last_beat_at": None},
        },
    }
    response = JsonResponse(body, status=200 if healthy else 503)
    if not healthy:
        response["Retry-After"] = "10"
    return response


@never_cache
@require_GET
def metrics(request):
    payload, content_type = render_metrics()
    return HttpResponse(payload, content_type=content_type)
