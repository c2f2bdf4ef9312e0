"""Number formats and filter-keeping links for the dashboard templates."""

from urllib.parse import urlencode

from django import template

register = template.Library()

STATE_CLASSES = {"healthy": "ok", "recovering": "warn", "suspect": "warn", "unhealthy": "bad", "unknown": "none"}


@register.filter
def state_class(state: str) -> str:
    return STATE_CLASSES.get(state, "none")


@register.filter
def pct(ratio) -> str:
    return "–" if ratio is None else f"{ratio * 100:.2f} %"


@register.filter
def num(value, digits: int = 3) -> str:
    if value is None:
        return "–"
    value = float(value)
    if value == 0:
        return "0"
    return f"{value:.{digits}g}" if abs(value) < 10 ** digits else f"{value:,.0f}"


@register.filter
def seconds(value) -> str:
    return "–" if value is None else f"{float(value):.1f} s"


@register.filter
def get(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.simple_tag(takes_context=True)
def keep_query(context, **changes) -> str:
    """The current query string with some parameters replaced (empty value: removed)."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        params.pop(key, None)
        if value not in (None, ""):
            params[key] = value
    return "?" + urlencode(sorted(params.items())) if params else "?"
