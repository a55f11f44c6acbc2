"""Dashboard, sign-in and the environment switch: the frame every page sits in."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from portal import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("environment/switch/", views.environment_switch, name="environment_switch"),
    path(
        "login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
