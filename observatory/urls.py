from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from observatory.api.main import api
from observatory.ops import views as ops_views

urlpatterns = [
    path("healthz", ops_views.healthz, name="healthz"),
    path("metrics", ops_views.metrics, name="metrics"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("", include("collectors.urls")),
    path("", include("dashboards.urls")),
]
