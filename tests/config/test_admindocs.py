"""/admin/doc/: the admin's documentation renders the docstrings (docutils installed)."""

from __future__ import annotations

import re

import pytest

DOCS = "/admin/doc/"
MISSING_DOCUTILS = "admin documentation system requires"


@pytest.fixture
def staff(staff_client):
    # Staff opens the documentation; a model's page also needs a permission on that model.
    return staff_client("chargers.view_chargingstation")


@pytest.fixture
def superuser(client, operator):
    client.force_login(operator)
    return client


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    html = response.content.decode()
    assert MISSING_DOCUTILS not in html
    return html


def test_the_index_and_its_lists_open_for_staff(staff):
    html = page(staff, DOCS)
    for part in ("tags/", "filters/", "models/", "views/"):
        assert f'href="{DOCS}{part}"' in html or f'href="{part}"' in html
    models = page(staff, f"{DOCS}models/")
    assert f'href="{DOCS}models/chargers.chargingstation/"' in models
    assert "energy.energyaccount" not in models  # no permission on it: not listed


def test_a_model_page_renders_its_docstring_and_fields(staff):
    html = page(staff, f"{DOCS}models/chargers.chargingstation/")
    assert "A charger (OCPP charge point / charging station), known by the id in its URL." in html
    assert "charger_id" in html


def test_a_model_page_needs_a_permission_on_the_model(staff):
    assert staff.get(f"{DOCS}models/energy.energyaccount/").status_code == 403


def test_the_views_page_and_a_view_render_their_docstrings(staff):
    html = page(staff, f"{DOCS}views/")
    assert "apps.dashboard.views.changelog" in html
    view = page(staff, f"{DOCS}views/apps.dashboard.views.changelog/")
    assert "Show the release notes, version by version (past and planned)" in view


def test_the_tags_and_filters_pages_render_their_docstrings(staff):
    tags = page(staff, f"{DOCS}tags/")
    assert "favorites_of" in tags
    assert "Return the operator&#x27;s favorites, in their order; none" in tags or (
        "Return the operator's favorites, in their order; none" in tags
    )
    filters = page(staff, f"{DOCS}filters/")
    assert "status_class" in filters
    assert "Return the CSS class that colours a connector status." in filters


def test_our_models_and_views_render_without_docutils_errors(superuser):
    """Every model and view page of our apps: 200, and no reST error in a docstring."""
    broken = []
    for index in ("models/", "views/"):
        index_html = page(superuser, DOCS + index)
        links = set(re.findall(rf'href="({DOCS}{index}[^"]+/)"', index_html))
        ours = sorted(
            link
            for link in links
            if link.split(index, 1)[1].startswith("apps.")
            or link.split(index, 1)[1].split(".")[0] in _OUR_LABELS
        )
        assert len(ours) >= 10, index
        for link in ours:
            if "system-message" in page(superuser, link):
                broken.append(link)
    assert broken == []


def _labels() -> set[str]:
    from django.apps import apps

    return {config.label for config in apps.get_app_configs() if config.name.startswith("apps.")}


_OUR_LABELS = _labels()


def test_non_staff_are_sent_to_the_login(client, django_user_model):
    assert client.get(DOCS)["Location"].startswith("/admin/login/")
    user = django_user_model.objects.create_user(username="driver", password="a-long-password-1")
    client.force_login(user)
    response = client.get(f"{DOCS}models/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_the_old_address_redirects(client):
    response = client.get("/admindocs/models/")
    assert response.status_code == 302
    assert response["Location"] == f"{DOCS}models/"
