from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("portal.urls_shell")),
    path("", include("portal.urls_manage")),
    path("cluster/", include("cluster.urls")),
    path("admin/", admin.site.urls),
]
