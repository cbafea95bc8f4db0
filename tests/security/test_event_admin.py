"""Security events are read-only in the admin, for superusers too."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.security.models import SecurityEvent
from apps.security.services import security_event_record

pytestmark = pytest.mark.django_db


def test_a_superuser_cannot_add_change_or_delete_a_security_event(admin_client):
    event = security_event_record(
        source=SecurityEvent.Source.STATION,
        event_type="FirmwareUpdated",
        charger_id="CP-SEC-1",
        tech_info="from 1.0 to 1.1",
    )
    assert admin_client.get(reverse("admin:security_securityevent_add")).status_code == 403
    change_url = reverse("admin:security_securityevent_change", args=[event.pk])
    assert admin_client.post(change_url, {"event_type": "Forged"}).status_code == 403
    delete_url = reverse("admin:security_securityevent_delete", args=[event.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    changelist = reverse("admin:security_securityevent_changelist")
    admin_client.post(
        changelist, {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"}
    )
    event.refresh_from_db()
    assert event.event_type == "FirmwareUpdated"
    assert b'value="delete_selected"' not in admin_client.get(changelist).content
    page = admin_client.get(change_url)
    assert page.status_code == 200 and b'name="_save"' not in page.content
