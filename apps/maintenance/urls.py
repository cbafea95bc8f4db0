"""Files stations fetch and send over HTTP; mounted at /files/."""

from __future__ import annotations

from django.urls import path

from apps.maintenance import views

app_name = "maintenance"
urlpatterns = [
    path(
        "firmware/<str:token>/<str:filename>",
        views.firmware_download,
        name="firmware-download",
    ),
    path("diagnostics/<str:token>/", views.diagnostics_upload, name="diagnostics-upload"),
    path(
        "diagnostics/<str:token>/<str:filename>",
        views.diagnostics_upload,
        name="diagnostics-upload-named",
    ),
]
