"""Firmware downloads and diagnostics uploads for chargers (filled in by that work)."""

from __future__ import annotations

app_name = "maintenance"
urlpatterns: list = []
