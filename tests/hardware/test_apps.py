"""The hardware app's wiring: its services start with the server process and stop with it."""

from __future__ import annotations

import threading

import pytest
from django.db import transaction

from apps.core.models import ServerProcess
from apps.core.processes import process_ending
from apps.hardware import services
from apps.hardware.models import ServiceStatus


def hardware_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name in ("hw-lcd", "hw-toast")]


@pytest.mark.django_db(transaction=True)
def test_the_lcd_and_toast_services_stop_when_the_server_process_ends(settings):
    settings.HARDWARE_SERVICES = True
    try:
        assert {"lcd", "toast"} <= set(services.start_services())
        assert len(hardware_threads()) == 2

        with transaction.atomic():
            process_ending.send(sender=ServerProcess, process_id="ending")
            # Not inside the transaction: the services record their stop in the database.
            assert len(hardware_threads()) == 2

        assert hardware_threads() == []
        states = dict(ServiceStatus.objects.values_list("name", "state"))
        assert states["lcd"] == states["toast"] == ServiceStatus.State.STOPPED
    finally:
        services.stop_services()
