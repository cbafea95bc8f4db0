"""Favorites: each user pins pages and filtered lists; add, reorder, remove, all their own."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from apps.dashboard.models import Favorite
from apps.dashboard.services import favorite_add, favorite_move, favorite_remove


def labels(user) -> list[str]:
    return list(
        Favorite.objects.filter(user=user).order_by("position").values_list("label", flat=True)
    )


def test_it_adds_favorites_at_the_end(operator):
    favorite_add(user_id=operator.pk, url="/admin/", label="Home")
    favorite_add(user_id=operator.pk, url="/admin/chargers/?is_connected__exact=0", label="Down")
    assert labels(operator) == ["Home", "Down"]


@pytest.mark.parametrize("url", ["https://evil.example/", "//evil.example/", "javascript:alert(1)"])
def test_it_refuses_addresses_off_this_site(operator, url):
    with pytest.raises(ValidationError):
        favorite_add(user_id=operator.pk, url=url, label="x")
    assert not Favorite.objects.exists()


def test_it_moves_and_removes(operator):
    a, _b, c = (favorite_add(user_id=operator.pk, url=f"/admin/{n}/", label=n) for n in "abc")
    favorite_move(favorite=c, offset=-1)
    assert labels(operator) == ["a", "c", "b"]
    favorite_move(favorite=a, offset=-1)  # already first: stays
    assert labels(operator) == ["a", "c", "b"]
    favorite_remove(favorite=c)
    assert labels(operator) == ["a", "b"]


def test_the_index_shows_the_users_own_favorites_with_buttons(client, operator, viewer):
    favorite_add(user_id=operator.pk, url="/admin/transactions/transaction/", label="Sessions")
    favorite_add(user_id=viewer.pk, url="/admin/", label="Not yours")
    client.force_login(operator)
    html = client.get(reverse("admin:index")).content.decode()
    assert '<a href="/admin/transactions/transaction/">Sessions</a>' in html
    assert "Not yours" not in html
    favorite = Favorite.objects.get(label="Sessions")
    assert reverse("dashboard:favorite_remove", args=[favorite.pk]) in html


def test_the_index_buttons_reorder_and_remove(client, operator):
    first = favorite_add(user_id=operator.pk, url="/admin/a/", label="first")
    second = favorite_add(user_id=operator.pk, url="/admin/b/", label="second")
    client.force_login(operator)
    response = client.post(reverse("dashboard:favorite_move", args=[second.pk, "up"]))
    assert response.status_code == 302 and response.url == reverse("admin:index")
    assert labels(operator) == ["second", "first"]
    client.post(reverse("dashboard:favorite_remove", args=[first.pk]))
    assert labels(operator) == ["second"]


def test_nobody_touches_another_users_favorites(client, operator, viewer):
    theirs = favorite_add(user_id=operator.pk, url="/admin/", label="mine")
    client.force_login(viewer)
    assert client.post(reverse("dashboard:favorite_remove", args=[theirs.pk])).status_code == 404
    change = reverse("admin:dashboard_favorite_change", args=[theirs.pk])
    assert client.get(change).status_code in (302, 404)
    assert "mine" not in client.get(reverse("admin:dashboard_favorite_changelist")).content.decode()
    assert Favorite.objects.filter(pk=theirs.pk).exists()


def test_pinning_from_a_page_prefills_the_form_and_returns_to_the_page(client, viewer):
    client.force_login(viewer)
    target = "/admin/chargers/chargingstation/?is_connected__exact=1"
    page = client.get(reverse("dashboard:index")).content.decode()
    assert reverse("admin:dashboard_favorite_add") + "?url=" in page  # the ☆ Pin link
    add = reverse("admin:dashboard_favorite_add")
    form = client.get(add, {"url": target, "label": "Online stations"}).content.decode()
    assert 'value="Online stations"' in form
    response = client.post(add, {"url": target, "label": "Online stations"})
    assert response.status_code == 302 and response.url == target
    assert labels(viewer) == ["Online stations"]
    assert Favorite.objects.get().user == viewer
