from __future__ import annotations

import pytest
from django.urls import reverse

from apps.chargers.models import ChargingStation, RegistrationStatus
from apps.core.timeutil import utcnow
from apps.ocpp.models import MessageLog

pytestmark = pytest.mark.django_db


def test_the_station_page_shows_its_message_log(admin_client):
    station = ChargingStation.objects.create(charger_id="CP-LOG")
    MessageLog.objects.create(
        charger_id="CP-LOG",
        direction="in",
        message_type=2,
        action="Heartbeat",
        frame='[2,"m1","Heartbeat",{}]',
        created_at=utcnow(),
    )
    response = admin_client.get(reverse("admin:chargers_chargingstation_change", args=[station.pk]))
    assert response.status_code == 200
    assert "[2,&quot;m1&quot;,&quot;Heartbeat&quot;,{}]" in response.content.decode()


def test_the_log_list_filters_by_charger(admin_client):
    for charger in ("A", "B"):
        MessageLog.objects.create(
            charger_id=charger,
            direction="in",
            message_type=2,
            action="Heartbeat",
            frame=f"frame-of-{charger}",
            created_at=utcnow(),
        )
    url = reverse("admin:ocpp_messagelog_changelist") + "?charger_id=A"
    response = admin_client.get(url)
    assert response.status_code == 200
    assert list(response.context["cl"].queryset.values_list("charger_id", flat=True)) == ["A"]


@pytest.mark.parametrize(
    ("action", "status"),
    [("approve", RegistrationStatus.ACCEPTED), ("reject", RegistrationStatus.REJECTED)],
)
def test_operators_approve_or_reject_pending_stations(admin_client, action, status):
    station = ChargingStation.objects.create(charger_id="CP-NEW")
    response = admin_client.post(
        reverse("admin:chargers_chargingstation_changelist"),
        {"action": action, "_selected_action": [station.pk]},
    )
    assert response.status_code == 302
    station.refresh_from_db()
    assert station.registration_status == status
