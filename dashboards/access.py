"""Personas: viewer (every signed-in user), operator and admin (Django groups made by a data
migration). Operators hold the same permissions the JSON API checks, so the API and the pages
agree on who may act. Viewers may be limited to regions (RegionAccess)."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.views.decorators.http import require_POST

from dashboards.models import AuditRecord, RegionAccess

VIEWER, OPERATOR, ADMIN = "viewer", "operator", "admin"
# What an operator may do; the API checks the same permissions (api/failovers.py, api/alerts.py).
OPERATE_FAILOVER = "failover.operate_failover"
OPERATE_ALERTS = "alerting.change_alert"
OPERATOR_PERMISSIONS = {
    "failover": ["operate_failover"],
    "alerting": ["change_alert", "add_silence", "change_silence"],
}
ADMIN_EXTRA_PERMISSIONS = {
    "auth": ["add_user", "change_user", "view_user", "view_group", "change_group"],
    "dashboards": ["add_regionaccess", "change_regionaccess", "delete_regionaccess", "view_regionaccess",
                   "view_auditrecord"],
}


def ensure_groups(group_model, permission_model) -> None:
    """Create the persona groups with their permissions (the data migration, and tests after a flush)."""

    def permissions(wanted: dict[str, list[str]]):
        found = []
        for app_label, codenames in wanted.items():
            found += permission_model.objects.filter(content_type__app_label=app_label, codename__in=codenames)
        return found

    group_model.objects.get_or_create(name=VIEWER)
    operator, _ = group_model.objects.get_or_create(name=OPERATOR)
    operator.permissions.add(*permissions(OPERATOR_PERMISSIONS))
    admin, _ = group_model.objects.get_or_create(name=ADMIN)
    admin.permissions.add(*permissions(OPERATOR_PERMISSIONS), *permissions(ADMIN_EXTRA_PERMISSIONS))


def role(user) -> str:
    """From permissions (one cached read), so the groups' permissions decide, not their names."""
    if user.is_superuser:
        return ADMIN
    if not (user.has_perm(OPERATE_FAILOVER) and user.has_perm(OPERATE_ALERTS)):
        return VIEWER
    return ADMIN if user.has_perm("dashboards.change_regionaccess") else OPERATOR


def allowed_regions(user) -> set[str] | None:
    """Region names the user may see; None means all of them."""
    if user.is_superuser:
        return None
    names = set(RegionAccess.objects.filter(Q(user=user) | Q(group__in=user.groups.all()))
                .values_list("region__name", flat=True))
    return names or None


def can_see(user, region: str | None, allowed: set[str] | None = ...) -> bool:
    allowed = allowed_regions(user) if allowed is ... else allowed
    return allowed is None or region in allowed


def audit(request, action: str, subject: str, allowed: bool = True, **details) -> None:
    AuditRecord.objects.create(actor=request.user.get_username(), action=action, subject=subject,
                               allowed=allowed, details=details)


def operator_action(permission: str, action: str):
    """A mutation: POST only (CSRF is checked by the middleware), signed in, holding ``permission``
    (403 otherwise, and the refusal is audited)."""

    def decorate(view):
        @login_required
        @require_POST
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.has_perm(permission):
                audit(request, action, request.path, allowed=False, reason=f"lacks {permission}")
                raise PermissionDenied(f"{action} needs an operator ({permission})")
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


def region_guard(request, region: str | None, action: str) -> None:
    """A user limited to some regions may not act on others."""
    if region and not can_see(request.user, region):
        audit(request, action, request.path, allowed=False, reason=f"no access to region {region}")
        raise PermissionDenied(f"no access to region {region}")


def safe_next(request, default: str) -> str:
    """The form's ``next`` page if it is one of ours, else ``default`` (no open redirects)."""
    from django.utils.http import url_has_allowed_host_and_scheme

    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return default
