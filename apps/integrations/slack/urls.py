from __future__ import annotations

from django.urls import path

from apps.integrations.slack import views

app_name = "slack"

urlpatterns = [
    path("install/", views.install, name="install"),
    path("oauth/callback/", views.oauth_callback, name="oauth-callback"),
    path("commands/", views.commands, name="commands"),
    path("events/", views.events, name="events"),
    path("link/<str:token>/", views.link, name="link"),
]
