from __future__ import annotations

from django.contrib import admin
from django.urls import path

from apps.dashboard import views

app_name = "dashboard"

urlpatterns = [
    path("", admin.site.admin_view(views.dashboard), name="index"),
    path(
        "favorites/<int:pk>/move/<str:direction>/",
        admin.site.admin_view(views.favorite_move_view),
        name="favorite_move",
    ),
    path(
        "favorites/<int:pk>/remove/",
        admin.site.admin_view(views.favorite_remove_view),
        name="favorite_remove",
    ),
    path(
        "stations/<int:pk>/registration/",
        admin.site.admin_view(views.station_registration),
        name="station_registration",
    ),
    path("changelog/", admin.site.admin_view(views.changelog_admin), name="changelog"),
    path("messages/", admin.site.admin_view(views.message_log), name="message_log"),
]
