from __future__ import annotations

from apps.userdata.checks import check_settings


def test_it_reports_a_bundle_limit_that_is_not_positive(settings):
    settings.USERDATA_MAX_BUNDLE_BYTES = 0

    assert [error.id for error in check_settings()] == ["userdata.E001"]


def test_the_default_limit_passes():
    assert check_settings() == []
