"""The message log list and page: names, seconds, pairs, filters; read-only for everyone."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.urls import reverse
from ocpp.v16 import call

from apps.core.timeutil import utcnow
from apps.ocpp.models import MessageLog
from apps.ocpp.selectors import message_log_counterparts
from tests.commands.helpers import command
from tests.ocpp.charger import connect_v16

CHANGELIST = "admin:ocpp_messagelog_changelist"
SECONDS = re.compile(r"\b\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\b")
MILLISECONDS = re.compile(r"\b\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\b")


async def wait_rows(charger_id: str, count: int, within: float = 15.0) -> list[MessageLog]:
    """Wait until the charger's log holds `count` rows (bounded), and return them."""
    deadline = time.monotonic() + within
    while True:
        rows = await sync_to_async(list)(
            MessageLog.objects.filter(charger_id=charger_id).order_by("created_at", "id")
        )
        if len(rows) >= count:
            return rows
        if time.monotonic() > deadline:
            raise AssertionError(f"{charger_id}: {len(rows)} log rows, expected {count}")
        await asyncio.sleep(0.02)


@pytest.mark.django_db(transaction=True)
class TestARealExchange:
    @pytest.fixture(autouse=True)
    def accept_all(self, settings):
        settings.OCPP_UNKNOWN_STATIONS = "accept"

    async def exchange(self, server, charger_id: str) -> list[MessageLog]:
        """Boot, a Heartbeat (charger's CALL) and a ClearCache (our CALL), over a socket."""
        async with connect_v16(server.ws_url, charger_id) as cp:
            await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
            await cp.call(call.Heartbeat())
            done = await command(server, charger_id, "ClearCache", {})
            assert done.status == "accepted"
        return await wait_rows(charger_id, 6)

    async def test_each_call_is_paired_with_its_answer_and_round_trip(self, asgi_server):
        rows = await self.exchange(asgi_server, "PAIR-1")
        by_kind = {(row.direction, row.message_type, row.action): row for row in rows}
        heartbeat = by_kind[("in", 2, "Heartbeat")]
        heartbeat_answer = by_kind[("out", 3, "Heartbeat")]
        clear = by_kind[("out", 2, "ClearCache")]
        clear_answer = by_kind[("in", 3, "ClearCache")]

        pairs = await sync_to_async(message_log_counterparts)(entries=rows)
        assert pairs[heartbeat.pk].entry.pk == heartbeat_answer.pk
        assert pairs[heartbeat_answer.pk].entry.pk == heartbeat.pk
        assert pairs[clear.pk].entry.pk == clear_answer.pk
        assert pairs[clear_answer.pk].entry.pk == clear.pk
        expected = round((clear_answer.created_at - clear.created_at).total_seconds() * 1000)
        assert pairs[clear.pk].round_trip_ms == expected >= 0

    async def test_the_list_shows_names_seconds_and_the_pair_link(self, asgi_server, admin_client):
        rows = await self.exchange(asgi_server, "PAIR-2")
        clear = next(row for row in rows if row.action == "ClearCache" and row.message_type == 2)
        answer = next(row for row in rows if row.action == "ClearCache" and row.message_type == 3)
        url = reverse(CHANGELIST) + "?charger_id=PAIR-2"
        response = await sync_to_async(admin_client.get)(url)
        assert response.status_code == 200
        page = response.content.decode()
        assert "CALLRESULT" in page and ">CALL<" in page
        assert SECONDS.search(page)
        answer_url = reverse("admin:ocpp_messagelog_change", args=[answer.pk])
        clear_url = reverse("admin:ocpp_messagelog_change", args=[clear.pk])
        # The CALL links to its answer with the round trip; the answer back to the CALL.
        assert f'<a href="{answer_url}">CALLRESULT</a> after ' in page
        assert f'<a href="{clear_url}">CALL ClearCache</a>' in page

    async def test_the_detail_page_shows_milliseconds_and_the_frame_indented(
        self, asgi_server, admin_client
    ):
        rows = await self.exchange(asgi_server, "PAIR-3")
        boot = next(
            row for row in rows if row.action == "BootNotification" and row.direction == "in"
        )
        url = reverse("admin:ocpp_messagelog_change", args=[boot.pk])
        response = await sync_to_async(admin_client.get)(url)
        assert response.status_code == 200
        page = response.content.decode()
        assert MILLISECONDS.search(page)
        assert '<pre class="cc-frame">[\n  2,' in page
        assert "&quot;chargePointVendor&quot;: &quot;V&quot;" in page
        assert "CALLRESULT" in page  # its answer


def _row(charger_id: str, direction: str, message_type: int, action: str, **extra) -> MessageLog:
    return MessageLog.objects.create(
        charger_id=charger_id,
        direction=direction,
        message_type=message_type,
        message_id=extra.pop("message_id", "m1"),
        action=action,
        frame=extra.pop("frame", "[]"),
        created_at=extra.pop("created_at", utcnow()),
    )


def _listed(admin_client, query: str) -> set[int]:
    response = admin_client.get(reverse(CHANGELIST) + query)
    assert response.status_code == 200
    return {row.pk for row in response.context["cl"].result_list}


@pytest.mark.django_db
class TestFilters:
    @pytest.fixture
    def rows(self) -> dict[str, MessageLog]:
        return {
            "a_call": _row("A", "in", 2, "Heartbeat"),
            "a_result": _row("A", "out", 3, "Heartbeat"),
            "b_call": _row("B", "out", 2, "Reset", message_id="m2"),
            "b_error": _row("B", "in", 4, "Reset", message_id="m2"),
        }

    def test_it_filters_by_station(self, admin_client, rows):
        assert _listed(admin_client, "?charger_id=B") == {rows["b_call"].pk, rows["b_error"].pk}

    def test_it_filters_by_action(self, admin_client, rows):
        expected = {rows["a_call"].pk, rows["a_result"].pk}
        assert _listed(admin_client, "?action__exact=Heartbeat") == expected

    def test_it_filters_by_direction(self, admin_client, rows):
        assert _listed(admin_client, "?direction__exact=out") == {
            rows["a_result"].pk,
            rows["b_call"].pk,
        }

    def test_it_filters_by_message_type(self, admin_client, rows):
        assert _listed(admin_client, "?message_type=4") == {rows["b_error"].pk}
        assert _listed(admin_client, "?message_type=x") == set()

    def test_the_filters_name_the_types(self, admin_client, rows):
        page = admin_client.get(reverse(CHANGELIST)).content.decode()
        for name in ("CALL", "CALLRESULT", "CALLERROR"):
            assert "?message_type=" in page and f">{name}</a>" in page

    def test_it_drills_down_by_date(self, admin_client, rows):
        old = _row("A", "in", 2, "Heartbeat", created_at=utcnow() - timedelta(days=400))
        year = old.created_at.year
        assert _listed(admin_client, f"?created_at__year={year}") >= {old.pk}
        assert old.pk not in _listed(admin_client, f"?created_at__year={year + 1}")

    def test_an_answer_pairs_with_the_latest_call_before_it(self, rows):
        # A reused message id: the earlier CALL with the same id is not this answer's.
        earlier = _row("A", "in", 2, "Heartbeat", created_at=utcnow() - timedelta(minutes=5))
        pairs = message_log_counterparts(entries=[rows["a_result"], earlier])
        assert pairs[rows["a_result"].pk].entry.pk == rows["a_call"].pk
        assert earlier.pk not in pairs

    def test_the_list_pairs_a_page_in_a_bounded_number_of_queries(
        self, admin_client, rows, django_assert_max_num_queries
    ):
        for n in range(30):
            _row("C", "in", 2, "Heartbeat", message_id=f"c{n}")
            _row("C", "out", 3, "Heartbeat", message_id=f"c{n}")
        with django_assert_max_num_queries(14):
            response = admin_client.get(reverse(CHANGELIST))
        assert response.status_code == 200
        assert all(row.counterpart for row in response.context["cl"].result_list)

    def test_pairing_a_page_is_one_query(self, rows, django_assert_num_queries):
        entries = list(MessageLog.objects.all())
        for n in range(30):
            entries.append(_row(f"S{n % 3}", "in", 2, "Heartbeat", message_id=f"s{n}"))
        with django_assert_num_queries(1):
            pairs = message_log_counterparts(entries=entries)
        assert pairs[rows["b_call"].pk].entry.pk == rows["b_error"].pk


@pytest.mark.django_db
class TestReadOnly:
    def test_a_superuser_cannot_add_change_or_delete_a_frame(self, admin_client):
        row = _row("A", "in", 2, "Heartbeat", frame='[2,"m1","Heartbeat",{}]')
        add = admin_client.get(reverse("admin:ocpp_messagelog_add"))
        assert add.status_code == 403
        change_url = reverse("admin:ocpp_messagelog_change", args=[row.pk])
        posted = admin_client.post(change_url, {"frame": "edited", "action": "Edited"})
        assert posted.status_code == 403
        delete = admin_client.post(
            reverse("admin:ocpp_messagelog_delete", args=[row.pk]), {"post": "yes"}
        )
        assert delete.status_code == 403
        bulk = admin_client.post(
            reverse(CHANGELIST), {"action": "delete_selected", "_selected_action": [row.pk]}
        )
        assert bulk.status_code in (200, 302)
        row.refresh_from_db()
        assert row.frame == '[2,"m1","Heartbeat",{}]'
        page = admin_client.get(change_url).content.decode()
        assert 'name="_save"' not in page
        assert "delete_selected" not in admin_client.get(reverse(CHANGELIST)).content.decode()


@pytest.mark.django_db
def test_the_list_speaks_italian(admin_client):
    call_row = _row("A", "in", 2, "Heartbeat")
    _row("A", "out", 3, "Heartbeat", created_at=call_row.created_at + timedelta(milliseconds=42))
    _row("A", "out", 2, "Reset", message_id="m9")
    page = admin_client.get(reverse(CHANGELIST), HTTP_ACCEPT_LANGUAGE="it").content.decode()
    assert "dopo 42 ms" in page
    assert "risponde a" in page
    assert "nessuna risposta" in page
    assert "risposta / chiamata" in page.lower()  # the column heading
