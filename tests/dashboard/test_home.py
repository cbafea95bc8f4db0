"""The home page at / and the admin's branding (issue #20)."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_anonymous_visitors_of_the_home_page_go_to_the_login_page(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=/")


def test_the_home_page_links_to_where_operators_work(admin_client):
    response = admin_client.get("/")
    assert response.status_code == 200
    page = response.content.decode()
    for url in (
        "/admin/control-center/",
        "/admin/chargers/chargingstation/",
        "/admin/transactions/transaction/",
        "/changelog/",
        "/api/docs/",
        "/api/redoc/",
    ):
        assert f'href="{url}"' in page, url


def test_the_home_page_offers_only_what_the_user_may_see(staff_client):
    page = staff_client().get("/").content.decode()
    assert 'href="/changelog/"' in page
    assert "/admin/chargers/chargingstation/" not in page
    assert "/admin/transactions/transaction/" not in page


def test_view_site_leads_home_and_the_header_names_the_product(admin_client):
    page = admin_client.get("/admin/").content.decode()
    assert '<a href="/">' in page  # "View site"
    assert "Django administration" not in page
    assert ">Constellation</a>" in page
    assert "<title>Site administration | Constellation</title>" in page


def test_the_header_is_branded_in_italian_too(admin_client):
    page = admin_client.get("/admin/", headers={"Accept-Language": "it"}).content.decode()
    assert 'lang="it"' in page
    assert ">Constellation</a>" in page
    assert "| Constellation</title>" in page
    assert "Amministrazione Django" not in page
    assert "Sito di amministrazione Django" not in page


def test_the_home_page_speaks_italian(admin_client):
    page = admin_client.get("/", headers={"Accept-Language": "it"}).content.decode()
    assert "Cruscotto dal vivo" in page


def test_non_staff_users_get_the_login_page(django_user_model):
    user = django_user_model.objects.create_user("driver", password="x" * 12)
    client = Client()
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_admin_pages_and_the_dashboard_link_the_favicon(admin_client, client):
    pages = [(admin_client, p) for p in ("/", "/admin/", "/admin/control-center/")]
    for browser, path in [*pages, (client, "/admin/login/")]:
        page = browser.get(path).content.decode()
        assert '<link rel="icon" href="/favicon.ico"' in page, path
        assert 'href="/static/control_center/favicon.svg"' in page, path
