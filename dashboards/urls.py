from django.urls import path

from dashboards import alert_views, failover_views, slo_views, trace_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("regions/<str:name>/", views.region, name="region"),
    path("regions/<str:name>/traces/", trace_views.traces, name="traces"),
    path("traces/<str:trace_id>/", trace_views.trace, name="trace"),
    path("slos/", slo_views.slos, name="slos"),
    path("slos/<str:name>/", slo_views.slo, name="slo"),
    path("alerts/", alert_views.alerts, name="alerts"),
    path("alerts/<str:fingerprint>/acknowledge", alert_views.acknowledge, name="acknowledge"),
    path("alerts/silences/preview", alert_views.silence_preview, name="silence_preview"),
    path("alerts/silences/", alert_views.create_silence, name="create_silence"),
    path("alerts/silences/<int:silence_id>/expire", alert_views.expire_silence, name="expire_silence"),
    path("failover/", failover_views.console, name="failover"),
    path("failover/<uuid:decision_id>/", failover_views.decision, name="decision"),
    path("failover/<uuid:decision_id>/approve", failover_views.approve, name="approve"),
    path("failover/<uuid:decision_id>/abort", failover_views.abort, name="abort"),
    path("failover/groups/<str:group>/manual", failover_views.manual, name="manual_failover"),
]
