from __future__ import annotations

from django.urls import path

from apps.userdata import views

app_name = "userdata"

urlpatterns = [
    path("", views.page, name="page"),
    path("export/", views.export, name="export"),
    path("import/", views.import_preview, name="import"),
    path("import/confirm/", views.import_confirm, name="confirm"),
]
