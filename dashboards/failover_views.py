"""Failover console: policies and active regions, pending decisions with approve/abort, manual
failover (estimate first, typed confirmation), and history. Actions go through
observatory.failover.actions, the same functions the API calls."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone

from dashboards import access, failover_queries
from dashboards.views import page
from observatory.failover import actions
from observatory.failover.models import Decision
from observatory.regions.models import Region


def _decision(request, decision_id, action: str | None = None) -> Decision:
    decision = get_object_or_404(Decision.objects.select_related("source", "target"), id=decision_id)
    allowed = access.allowed_regions(request.user)
    if allowed is not None and decision.source.name not in allowed and decision.target.name not in allowed:
        if action:
            access.audit(request, action, f"decision {decision.id}", allowed=False, reason="no access to its regions")
        raise PermissionDenied("no access to this decision's regions")
    return decision


@login_required
def console(request):
    context = failover_queries.console(access.allowed_regions(request.user), timezone.now())
    return page(request, "dashboards/failover.html", context, "dashboards/_failover_live.html")


@login_required
def decision(request, decision_id):
    return page(request, "dashboards/decision.html", failover_queries.decision_detail(_decision(request, decision_id)))


def _act(request, decision: Decision, action: str, fn, *args):
    reason = request.POST.get("reason", "").strip()
    try:
        fn(decision.id, request.user.get_username(), reason, *args)
    except actions.ActionError as exc:
        messages.error(request, f"Not done: {exc}")
    else:
        access.audit(request, action, f"decision {decision.id} ({decision.group})", reason=reason)
        messages.success(request, f"Decision {decision.source.name} → {decision.target.name}: {action} done.")
    return redirect(access.safe_next(request, reverse("failover")))


@access.operator_action(access.OPERATE_FAILOVER, "approve")
def approve(request, decision_id):
    decision = _decision(request, decision_id, "approve")
    return _act(request, decision, "approve", actions.approve, request.POST.get("accept_data_loss") == "on")


@access.operator_action(access.OPERATE_FAILOVER, "abort")
def abort(request, decision_id):
    return _act(request, _decision(request, decision_id, "abort"), "abort", actions.abort)


@login_required
def manual(request, group):
    """GET: the estimate and the form (operators only act; everyone may look). POST: do it."""
    regions = list(Region.objects.filter(group=group))
    if not regions:
        raise Http404(f"no failover group {group}")
    allowed = access.allowed_regions(request.user)
    if allowed is not None and not any(r.name in allowed for r in regions):
        raise PermissionDenied(f"no access to group {group}")
    if request.method == "POST":
        return _manual_post(request, group)
    target = request.GET.get("target", "")
    estimate = failover_queries.manual_estimate(group, target, timezone.now()) if target else None
    return page(request, "dashboards/manual.html", {"group": group, "regions": regions, "target": target,
                                                    "estimate": estimate})


@access.operator_action(access.OPERATE_FAILOVER, "manual_failover")
def _manual_post(request, group):
    target = request.POST.get("target", "")
    reason = request.POST.get("reason", "").strip()
    back = redirect(f"{request.path}?target={target}")
    if request.POST.get("confirm", "").strip() != target or not target:
        messages.error(request, f"Not done: type the target region's name ({target or 'pick one'}) to confirm.")
        return back
    try:
        made = actions.request_manual(group, target, request.user.get_username(), reason,
                                      request.POST.get("accept_data_loss") == "on")
    except actions.ActionError as exc:
        messages.error(request, f"Not done: {exc}")
        return back
    access.audit(request, "manual_failover", f"decision {made.id} ({group})", target=target, reason=reason)
    messages.success(request, f"Manual failover of {group} to {target} requested (epoch {made.epoch}).")
    return redirect("decision", decision_id=made.id)
