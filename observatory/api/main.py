"""The read-side JSON API (/api/v1/…), with its OpenAPI schema at /api/v1/openapi.json.

Authenticated by a logged-in session or `Authorization: Bearer <API key>`.
"""

from ninja import NinjaAPI
from ninja.security import APIKeyHeader, django_auth

from observatory.api.keys import find_user
from observatory.telemetry.queries import QueryError


class BearerApiKey(APIKeyHeader):
    param_name = "Authorization"

    def authenticate(self, request, key):
        scheme, _, raw = (key or "").partition(" ")
        user = find_user(raw.strip()) if scheme.lower() == "bearer" else None
        if user is not None:
            request.user = user
        return user


# The API key goes first: session auth answers a failed CSRF check with 403 without trying the next
# method, and scripts holding a key have no CSRF token.
api = NinjaAPI(title="Observatory API", version="1", urls_namespace="api-v1", auth=[BearerApiKey(), django_auth])


@api.exception_handler(QueryError)
def _query_error(request, exc):
    return api.create_response(request, {"detail": str(exc)}, status=400)


from observatory.api import alerts, anomalies, failovers, routes, series, slos  # noqa: E402

series.register(api)
failovers.register(api)
slos.register(api)
alerts.register(api)
routes.register(api)
anomalies.register(api)
