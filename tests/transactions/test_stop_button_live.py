"""Stop on a dashboard row stops a running session of a real charger over a real socket."""

from __future__ import annotations

import asyncio
import re

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from ocpp.v16 import call

from apps.commands.models import ChargerCommand, CommandStatus
from apps.core.timeutil import format_ocpp_datetime, utcnow
from apps.transactions.models import Transaction
from tests.commands.test_station_page_live import PASSWORD, USERNAME, log_in, post_form
from tests.ocpp.charger import connect_v16


@pytest.mark.django_db(transaction=True)
async def test_stop_on_a_dashboard_row_stops_the_charger_s_session(asgi_server, settings):
    settings.OCPP_UNKNOWN_STATIONS = "accept"
    await sync_to_async(get_user_model().objects.create_superuser)(
        USERNAME, "operator@example.com", PASSWORD
    )
    async with connect_v16(asgi_server.ws_url, "CP-STOP-LIVE") as cp:
        await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        started = await cp.call(
            call.StartTransaction(
                connector_id=1,
                id_tag="TAG-STOP",
                meter_start=1000,
                timestamp=format_ocpp_datetime(utcnow()),
            )
        )
        base = asgi_server.http_url
        session = await asyncio.to_thread(log_in, base)
        dashboard = await asyncio.to_thread(session.get, f"{base}/admin/control-center/")
        row = re.search(
            rf'data-transaction-id="{started.transaction_id}".*?'
            r'<a class="button cc-stop" data-field="stop" href="([^"]+)"',
            dashboard.text,
            flags=re.DOTALL,
        )
        assert row is not None, "no Stop button on the session's dashboard row"
        stop_url = row[1].replace("&amp;", "&")
        response = await asyncio.to_thread(post_form, session, f"{base}{stop_url}", {})
        assert cp.received["RemoteStopTransaction"] == [{"transaction_id": started.transaction_id}]
        # The charger does what it was asked: it ends the session and says so.
        await cp.call(
            call.StopTransaction(
                transaction_id=started.transaction_id,
                meter_stop=4500,
                timestamp=format_ocpp_datetime(utcnow()),
                reason="Remote",
            )
        )

    assert response.url.endswith("/admin/control-center/")
    assert f"Stop of session {started.transaction_id} on station CP-STOP-LIVE: Accepted" in (
        response.text
    )
    command = await sync_to_async(ChargerCommand.objects.get)(action="RemoteStopTransaction")
    assert command.status == CommandStatus.ACCEPTED
    tx = await sync_to_async(Transaction.objects.get)(transaction_id=str(started.transaction_id))
    assert tx.stopped_at is not None and tx.stop_reason == "Remote"
