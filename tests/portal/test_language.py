"""The owner chooses the language stations address the account's drivers in."""

from __future__ import annotations

from django.contrib.messages import get_messages
from django.urls import reverse

from apps.energy.models import EnergyAccount


def test_the_owner_sets_the_drivers_language(client, alice) -> None:
    client.force_login(alice.user)
    page = client.get(reverse("portal:account", args=[alice.account.pk])).content.decode()
    assert reverse("portal:language", args=[alice.account.pk]) in page
    assert '<option value="it">Italiano</option>' in page
    response = client.post(reverse("portal:language", args=[alice.account.pk]), {"language": "it"})
    assert response.status_code == 302
    alice.account.refresh_from_db()
    assert alice.account.language == "it"
    page = client.get(reverse("portal:account", args=[alice.account.pk])).content.decode()
    assert '<option value="it" selected>Italiano</option>' in page


def test_a_language_not_offered_is_refused_with_a_message(client, alice) -> None:
    client.force_login(alice.user)
    response = client.post(reverse("portal:language", args=[alice.account.pk]), {"language": "xx"})
    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Choose one of the languages offered."
    ]
    alice.account.refresh_from_db()
    assert alice.account.language == ""


def test_another_owners_account_is_not_found(client, alice, bob) -> None:
    client.force_login(alice.user)
    response = client.post(reverse("portal:language", args=[bob.account.pk]), {"language": "it"})
    assert response.status_code == 404
    assert EnergyAccount.objects.get(pk=bob.account.pk).language == ""


def test_the_page_needs_a_login(client, alice) -> None:
    response = client.post(reverse("portal:language", args=[alice.account.pk]), {"language": "it"})
    assert response.status_code == 302 and "login" in response["Location"]
    alice.account.refresh_from_db()
    assert alice.account.language == ""
