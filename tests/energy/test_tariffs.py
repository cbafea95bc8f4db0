"""Which tariff version prices a session, and how the admin keeps versions."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from apps.energy.models import Tariff
from apps.energy.selectors import tariff_for_session
from apps.energy.services import tariff_save_version
from tests.personas import T0

pytestmark = pytest.mark.django_db


def tariff(code: str, *, days_before: int = 10, **fields) -> Tariff:
    fields.setdefault("name", code)
    return tariff_save_version(
        tariff=Tariff(code=code, valid_from=T0 - timedelta(days=days_before), **fields),
        now=T0 - timedelta(days=days_before),
    )


def test_it_prefers_station_and_group_then_station_then_default_group_then_default(
    make_station,
) -> None:
    station, other = make_station("CP-1"), make_station("CP-2")
    default = tariff("default")
    default_fleet = tariff("default-fleet", group="fleet")
    own = tariff("own", station=station)
    own_fleet = tariff("own-fleet", station=station, group="fleet")
    assert tariff_for_session(station_id=station.pk, group="fleet", at=T0) == own_fleet
    assert tariff_for_session(station_id=station.pk, group="", at=T0) == own
    assert tariff_for_session(station_id=station.pk, group="guests", at=T0) == own
    assert tariff_for_session(station_id=other.pk, group="fleet", at=T0) == default_fleet
    assert tariff_for_session(station_id=other.pk, group="", at=T0) == default


def test_it_takes_the_version_valid_at_the_start(make_station) -> None:
    station = make_station("CP-1")
    first = tariff("std", days_before=10, energy_price=Decimal("0.30"))
    first.energy_price = Decimal("0.40")
    second = tariff_save_version(tariff=first, now=T0 - timedelta(days=5))
    assert second.version == 2 and second.valid_from == T0 - timedelta(days=5)
    later = Tariff.objects.get(pk=second.pk)
    later.valid_from = T0 + timedelta(days=1)  # a price change announced for tomorrow
    third = tariff_save_version(tariff=later, now=T0)
    assert tariff_for_session(station_id=station.pk, group="", at=T0).version == 2
    assert (
        tariff_for_session(station_id=station.pk, group="", at=T0 - timedelta(days=7)).version == 1
    )
    assert tariff_for_session(station_id=station.pk, group="", at=third.valid_from) == third
    assert tariff_for_session(station_id=station.pk, group="", at=T0 - timedelta(days=30)) is None
    rows = Tariff.objects.filter(code="std").order_by("version")
    assert list(rows.values_list("version", "energy_price")) == [
        (1, Decimal("0.3000")),
        (2, Decimal("0.4000")),
        (3, Decimal("0.4000")),
    ]


def test_saving_a_tariff_in_the_admin_writes_a_new_version(client, operator) -> None:
    first = tariff("std", energy_price=Decimal("0.30"))
    client.force_login(operator)
    url = reverse("admin:energy_tariff_change", args=[first.pk])
    form = {
        "code": "std",
        "name": "Standard",
        "currency": "EUR",
        "energy_price": "0.35",
        "time_price": "0",
        "idle_price": "0",
        "idle_grace_minutes": "0",
        "session_fee": "0",
        "vat_percent": "22",
        "bands": '[{"from": "22:00", "to": "06:00", "energy_price": "0.20"}]',
        "valid_from_0": "2025-01-01",
        "valid_from_1": "00:00:00",
    }
    response = client.post(url, form)
    assert response.status_code == 302, response.content
    versions = {t.version: t for t in Tariff.objects.filter(code="std")}
    assert set(versions) == {1, 2}
    assert versions[1].energy_price == Decimal("0.30")  # the old version as it was
    assert versions[2].energy_price == Decimal("0.35")
    assert versions[2].valid_from > versions[1].valid_from  # not back-dated over priced sessions
    # Versions are never deleted (sessions keep theirs).
    delete = client.post(reverse("admin:energy_tariff_delete", args=[first.pk]), {"post": "yes"})
    assert delete.status_code == 403
    assert Tariff.objects.filter(pk=first.pk).exists()


def test_the_admin_refuses_malformed_bands(client, operator) -> None:
    client.force_login(operator)
    response = client.post(
        reverse("admin:energy_tariff_add"),
        {
            "code": "bad",
            "name": "Bad",
            "currency": "EUR",
            "energy_price": "0.3",
            "time_price": "0",
            "idle_price": "0",
            "idle_grace_minutes": "0",
            "session_fee": "0",
            "vat_percent": "0",
            "bands": '[{"from": "25:00", "to": "06:00", "energy_price": "0.2"}]',
            "valid_from_0": "2025-01-01",
            "valid_from_1": "00:00:00",
        },
    )
    assert response.status_code == 200
    assert "bands" in response.context["adminform"].form.errors
    assert not Tariff.objects.filter(code="bad").exists()
