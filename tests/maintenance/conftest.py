from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def media_in_tmp(settings, tmp_path):
    """Keep uploaded and stored files of each test in its own folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    return settings.MEDIA_ROOT
