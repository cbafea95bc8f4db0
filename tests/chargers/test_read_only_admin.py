"""What the station reports is read-only in the admin, for superusers too."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.chargers.models import ChargingStation, Connector, StatusEvent
from apps.chargers.services import ConnectorStatus, connector_status_update
from apps.core.timeutil import utcnow

pytestmark = pytest.mark.django_db


@pytest.fixture
def station() -> ChargingStation:
    station = ChargingStation.objects.create(charger_id="CP-RO-1", name="Before")
    connector_status_update(
        station_id=station.pk,
        report=ConnectorStatus(connector_id=1, status="Available", timestamp=utcnow()),
    )
    return station


def _form_data(response) -> dict[str, object]:
    """The change form's current values, as a browser would post them back."""
    form = response.context["adminform"].form
    data: dict[str, object] = {}
    for name in form.fields:
        value = form.initial.get(name)
        if value is not None and value is not False:
            data[name] = value.pk if hasattr(value, "pk") else value
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in management.fields:
            data[f"{inline.formset.prefix}-{name}"] = management.initial.get(name, 0)
    return data


def test_the_station_page_offers_no_connector_to_add_or_edit(admin_client, station):
    url = reverse("admin:chargers_chargingstation_change", args=[station.pk])
    response = admin_client.get(url)
    assert response.status_code == 200
    (inline,) = response.context["inline_admin_formsets"]
    assert not inline.has_add_permission
    assert not inline.has_change_permission
    assert not inline.has_delete_permission
    # The formset allows no extra form: the page has no "Add another" button to show.
    assert 'name="connectors-MAX_NUM_FORMS" value="0"' in response.content.decode()


def test_saving_the_station_leaves_its_connectors_as_reported(admin_client, station):
    url = reverse("admin:chargers_chargingstation_change", args=[station.pk])
    data = _form_data(admin_client.get(url))
    prefix = next(key for key in data if key.endswith("-TOTAL_FORMS")).removesuffix("-TOTAL_FORMS")
    connector = Connector.objects.get(station=station)
    data.update(
        {
            "name": "After",
            # A forged connector edit and a forged new connector: both ignored.
            f"{prefix}-0-id": connector.pk,
            f"{prefix}-0-status": "Faulted",
            f"{prefix}-1-connector_id": 7,
            f"{prefix}-1-status": "Available",
            f"{prefix}-TOTAL_FORMS": 2,
        }
    )
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    station.refresh_from_db()
    assert station.name == "After"  # the operator's own field is saved
    assert list(station.connectors.values_list("connector_id", "status")) == [(1, "Available")]


def test_a_superuser_cannot_add_change_or_delete_a_status_event(admin_client, station):
    event = StatusEvent.objects.get(station=station)
    assert admin_client.get(reverse("admin:chargers_statusevent_add")).status_code == 403
    change_url = reverse("admin:chargers_statusevent_change", args=[event.pk])
    assert admin_client.post(change_url, {"status": "Faulted"}).status_code == 403
    delete_url = reverse("admin:chargers_statusevent_delete", args=[event.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    admin_client.post(
        reverse("admin:chargers_statusevent_changelist"),
        {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"},
    )
    event.refresh_from_db()
    assert event.status == "Available"
    assert admin_client.get(change_url).status_code == 200  # still readable
