"""The admin's last card scans, and registering an unknown card with one click."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import translation

from apps.hardware.models import CardScan
from apps.rfid.models import AuthorizationStatus, IdTag
from tests.personas import T0

pytestmark = pytest.mark.django_db

LIST = reverse("admin:hardware_cardscan_changelist")


def register_url(scan: CardScan) -> str:
    return reverse("admin:hardware_cardscan_register", args=[scan.pk])


@pytest.fixture
def scans(make_station) -> dict[str, CardScan]:
    station = make_station("CP-DESK")
    IdTag.objects.create(id_tag="KNOWN01")
    older = CardScan.objects.create(
        uid="KNOWN01", at=T0, result="Accepted", action="started", station=station,
        detail="RemoteStartTransaction accepted",
    )  # fmt: skip
    newer = CardScan.objects.create(
        uid="CAFE0001", at=T0.replace(minute=20), result="Invalid", action="none",
        station=station, detail="card refused: Invalid",
    )  # fmt: skip
    return {"known": older, "unknown": newer}


def staff(make_user, *perms: str):
    user = make_user(*perms)
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


def test_the_last_scans_are_listed_newest_first_with_a_register_button(client, operator, scans):
    client.force_login(operator)
    page = client.get(LIST)
    assert page.status_code == 200
    text = page.content.decode()
    assert text.index("CAFE0001") < text.index("KNOWN01")
    assert "card refused: Invalid" in text
    assert "CP-DESK" in text
    # Only the unknown card can be registered.
    buttons = re.findall(r'data-register-card="([^"]+)"', text)
    assert buttons == ["CAFE0001"]
    assert register_url(scans["unknown"]) in text
    assert "hardware/card-scans.js" in text


def test_the_page_is_in_italian(client, operator, scans):
    client.force_login(operator)
    with translation.override("it"):
        page = client.get(LIST, headers={"accept-language": "it"})
    text = page.content.decode()
    assert "Registra questa tessera" in text
    assert "Ultime letture delle tessere" in text


def test_registering_an_unknown_card_makes_an_accepted_id_tag(client, make_user, scans):
    client.force_login(staff(make_user, "hardware.view_cardscan", "rfid.add_idtag"))
    answer = client.post(register_url(scans["unknown"]), follow=True)
    assert answer.redirect_chain[-1][0] == LIST
    tag = IdTag.objects.get(id_tag="CAFE0001")
    assert tag.status == AuthorizationStatus.ACCEPTED
    assert "Card CAFE0001 registered" in answer.content.decode()
    # Once known, no more button for it.
    assert re.findall(r'data-register-card="([^"]+)"', answer.content.decode()) == []


def test_a_card_that_is_already_known_is_not_registered_twice(client, operator, scans):
    client.force_login(operator)
    answer = client.post(register_url(scans["known"]), follow=True)
    assert "Card KNOWN01 is already an id tag." in answer.content.decode()
    assert IdTag.objects.filter(id_tag="KNOWN01").count() == 1


def test_registering_needs_the_permission_to_add_id_tags(client, make_user, scans):
    client.force_login(staff(make_user, "hardware.view_cardscan"))
    page = client.get(LIST)
    assert page.status_code == 200
    assert "data-register-card" not in page.content.decode()
    refused = client.post(register_url(scans["unknown"]))
    assert refused.status_code == 403
    assert not IdTag.objects.filter(id_tag="CAFE0001").exists()


def test_registering_is_a_post(client, operator, scans):
    client.force_login(operator)
    assert client.get(register_url(scans["unknown"])).status_code == 405
    assert not IdTag.objects.filter(id_tag="CAFE0001").exists()


def test_anonymous_users_are_sent_to_the_login(client, scans):
    answer = client.post(register_url(scans["unknown"]))
    assert answer.status_code == 302
    assert "/login/" in answer["Location"]
    assert not IdTag.objects.filter(id_tag="CAFE0001").exists()


def test_scans_are_not_added_or_changed_by_hand(client, operator, scans):
    client.force_login(operator)
    assert client.get(reverse("admin:hardware_cardscan_add")).status_code == 403
    detail = client.get(reverse("admin:hardware_cardscan_change", args=[scans["known"].pk]))
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()
