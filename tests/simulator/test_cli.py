"""manage.py simulate: a fleet against the real server, its progress and its summary."""

from __future__ import annotations

import asyncio
import io
import json
import re

import pytest
from django.core.management import CommandError, call_command

from apps.chargers.models import ChargingStation
from apps.ocpp.models import MessageLog
from apps.transactions.models import Transaction
from tests.simulator.conftest import VERSIONS, db, eventually

pytestmark = pytest.mark.django_db(transaction=True)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def simulate(*args: str, stdout: io.StringIO | None = None) -> str:
    out = stdout or io.StringIO()
    call_command("simulate", *args, stdout=out)
    return out.getvalue()


def summary(output: str) -> dict[str, int]:
    return {
        label: int(value)
        for label, value in re.findall(r"^  ([a-z ]+?) +(\d+)$", output, flags=re.MULTILINE)
    }


@pytest.mark.parametrize("version", VERSIONS)
async def test_three_chargers_run_sessions_and_the_summary_matches_the_database(
    asgi_server, version
):
    prefix = f"CLI{version}-"
    output = await asyncio.to_thread(
        simulate,
        "--chargers=3",
        f"--ocpp={version}",
        f"--url={asgi_server.ws_url}/ocpp/",
        "--duration=2",
        f"--prefix={prefix}",
        "--meter-interval=0.2",
        "--session-duration=0.6",
        "--register",
        "--progress-interval=0.5",
        "--json",
        "--strict",
    )
    counts = summary(output)
    stats = json.loads(output.strip().splitlines()[-1])
    assert counts["chargers"] == 3
    assert counts["connections"] == counts["boots"] == 3
    assert counts["errors"] == 0
    assert counts["sessions started"] >= 3
    assert counts["sessions stopped"] == counts["sessions started"]  # stopped cleanly
    assert stats["connected"] == stats["booted"] == 0
    assert "connected 3/3" in output  # a progress line (not a terminal: plain lines)

    stations = await db(
        lambda: list(
            ChargingStation.objects.filter(charger_id__startswith=prefix)
            .order_by("charger_id")
            .values_list("charger_id", "ocpp_version")
        )
    )
    assert stations == [(f"{prefix}000{n}", f"ocpp{version}") for n in (1, 2, 3)]
    await eventually(
        lambda: (
            not ChargingStation.objects.filter(
                charger_id__startswith=prefix, is_connected=True
            ).exists()
        ),
        what="the server saw the chargers go",
    )
    transactions = await db(
        lambda: Transaction.objects.filter(station__charger_id__startswith=prefix).count()
    )
    finished = await db(
        lambda: Transaction.objects.filter(
            station__charger_id__startswith=prefix, stopped_at__isnull=False
        ).count()
    )
    assert transactions == finished == counts["sessions started"]
    authorized = await db(
        lambda: set(
            Transaction.objects.filter(station__charger_id__startswith=prefix).values_list(
                "id_tag", "authorization_status"
            )
        )
    )
    assert authorized == {(f"SIM{n}-1", "Accepted") for n in (1, 2, 3)}
    frames_in = await db(
        lambda: MessageLog.objects.filter(
            charger_id__startswith=prefix, direction=MessageLog.Direction.IN
        ).count()
    )
    assert frames_in == counts["messages sent"]


async def test_on_a_terminal_progress_is_one_line_updated_in_place(asgi_server):
    terminal = Terminal()
    await asyncio.to_thread(
        simulate,
        f"--url={asgi_server.ws_url}/ocpp/",
        "--duration=1.5",
        "--prefix=TTY-",
        "--idle",
        stdout=terminal,
    )
    output = terminal.getvalue()
    assert "\rconnected 1/1  booted 1" in output
    assert "Summary after" in output


def test_strict_fails_when_there_were_errors():
    with pytest.raises(CommandError, match="error"):
        simulate("--url=ws://127.0.0.1:9/ocpp/", "--duration=0.5", "--strict")


def test_it_refuses_charger_ids_too_long():
    with pytest.raises(CommandError, match="48"):
        simulate("--prefix=" + "X" * 45, "--duration=0.1")
