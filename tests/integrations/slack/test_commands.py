"""`/constellation` slash commands: linked, permitted operators only, through the command path."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.core import signing
from django.urls import reverse

from apps.chargers.models import ChargingStation
from apps.commands.models import ChargerCommand, CommandStatus
from apps.integrations.slack.models import SlackIdentity
from apps.integrations.slack.services import LINK_SALT
from apps.transactions.services import transaction_start
from tests.integrations.slack.conftest import COMMAND_PERMS
from tests.integrations.slack.slack_api import TEAM_ID, signed_headers, slash_body
from tests.personas import T0, add_connector

pytestmark = pytest.mark.django_db


def say(client, text: str, **who) -> str:
    """Send `/constellation <text>` as Slack would; return the ephemeral answer."""
    body = slash_body(text, **who)
    response = client.post(
        reverse("slack:commands"),
        data=body,
        content_type="application/x-www-form-urlencoded",
        **signed_headers(body),
    )
    assert response.status_code == 200
    assert response.json()["response_type"] == "ephemeral"
    return response.json()["text"]


@pytest.fixture
def station() -> ChargingStation:
    # Connected, so a command waits for its socket (pending) instead of ending "offline".
    station = ChargingStation.objects.create(
        charger_id="CP-SL1", registration_status="Accepted", is_connected=True
    )
    add_connector(station, 1, "Available")
    add_connector(station, 2, "Faulted")
    return station


def test_a_linked_permitted_operator_resets_a_station_through_the_command_path(
    client, linked, station
):
    user = linked(*COMMAND_PERMS)

    answer = say(client, "reset CP-SL1 hard")

    command = ChargerCommand.objects.get()
    assert (command.station, command.action, command.payload) == (
        station,
        "Reset",
        {"type": "Hard"},
    )
    assert (command.source, command.requested_by, command.status) == (
        "slack",
        user,
        CommandStatus.PENDING,
    )
    assert answer == (
        f"Reset sent to CP-SL1 (command {command.pk}, Pending); its answer shows on the "
        "station page."
    )


def test_start_sends_a_remote_start_for_the_connector_and_card(client, linked, station):
    linked(*COMMAND_PERMS)

    say(client, "start CP-SL1 1 TAG-0042")

    command = ChargerCommand.objects.get()
    assert command.action == "RemoteStartTransaction"
    assert command.payload == {"idTag": "TAG-0042", "connectorId": 1}


def test_stop_without_a_transaction_stops_the_only_running_session(client, linked, station):
    linked(*COMMAND_PERMS)
    tx, _ = transaction_start(
        station_id=station.pk,
        connector_id=1,
        id_tag="TAG-1",
        meter_start_wh=100,
        started_at=T0,
        free_charging=True,
    )

    say(client, "stop CP-SL1")

    command = ChargerCommand.objects.get()
    assert command.action == "RemoteStopTransaction"
    assert command.payload == {"transactionId": int(tx.transaction_id)}


def test_a_command_to_an_offline_station_says_it_was_not_sent(client, linked, station):
    linked(*COMMAND_PERMS)
    ChargingStation.objects.filter(pk=station.pk).update(is_connected=False)

    answer = say(client, "reset CP-SL1")

    assert answer == "Reset not sent to CP-SL1: the station is not connected."
    assert ChargerCommand.objects.get().status == CommandStatus.OFFLINE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "start CP-SL1 one TAG",
            "Usage: `/constellation start &lt;station&gt; &lt;connector&gt; &lt;idTag&gt;`",
        ),
        ("reset CP-SL1 sideways", "Usage: `/constellation reset &lt;station&gt; [soft|hard]`"),
        ("reset CP-NOPE", "No station CP-NOPE."),
        ("stop CP-SL1", "No session is running on CP-SL1."),
        ("start CP-SL1 1 " + "X" * 21, "Not sent: invalid payload"),
    ],
)
def test_bad_input_gets_a_clear_answer_and_sends_nothing(client, linked, station, text, expected):
    linked(*COMMAND_PERMS)

    assert say(client, text).startswith(expected)
    assert ChargerCommand.objects.count() == 0


def test_an_unlinked_slack_user_is_told_how_to_link(client, workspace, station):
    answer = say(client, "reset CP-SL1 hard", user_id="U0STRANGER")

    assert "not linked to a Constellation operator" in answer
    assert ChargerCommand.objects.count() == 0


def test_a_linked_operator_without_the_command_permission_is_refused(client, linked, station):
    linked("chargers.view_chargingstation")

    answer = say(client, "reset CP-SL1 hard")

    assert answer.startswith("You may not send commands to stations")
    assert ChargerCommand.objects.count() == 0


def test_an_inactive_operator_is_not_linked_any_more(client, linked, station):
    user = linked(*COMMAND_PERMS)
    user.is_active = False
    user.save(update_fields=["is_active"])

    assert "not linked" in say(client, "reset CP-SL1")
    assert ChargerCommand.objects.count() == 0


def test_a_workspace_that_is_not_installed_is_told_so(client, linked, station):
    linked(*COMMAND_PERMS)

    answer = say(client, "reset CP-SL1", team_id="T0OTHER")

    assert answer == "Constellation is not installed in this Slack workspace."
    assert ChargerCommand.objects.count() == 0


def test_status_shows_connection_connectors_and_sessions(client, linked, station):
    linked("chargers.view_chargingstation")
    tx, _ = transaction_start(
        station_id=station.pk,
        connector_id=1,
        id_tag="TAG-1",
        meter_start_wh=100,
        started_at=T0,
        free_charging=True,
    )

    answer = say(client, "status CP-SL1")

    lines = answer.splitlines()
    assert lines[0] == "*CP-SL1*: connected"
    assert "connector 2: Faulted" in lines
    assert any(
        line.startswith(f"session {tx.transaction_id} on connector 1 since") for line in lines
    )
    assert say(client, "status").splitlines() == ["🟢 CP-SL1"]


def test_status_needs_the_view_permission(client, linked, station):
    linked()

    assert say(client, "status CP-SL1").startswith("You may not view stations")


def test_a_slack_user_links_themselves_through_the_admin(client, workspace, make_user, station):
    answer = say(client, "link", user_id="U0NEW0001")
    url = re.search(r"https?://\S+", answer).group(0)
    user = make_user(*COMMAND_PERMS)
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    path = urlsplit(url).path

    anonymous = client.get(path)
    assert anonymous.status_code == 302  # to the admin's login first
    client.force_login(user)
    confirm = client.get(path)
    assert confirm.status_code == 200
    assert "U0NEW0001" in confirm.content.decode()
    assert SlackIdentity.objects.count() == 0  # a GET links nothing

    client.post(path)

    identity = SlackIdentity.objects.get()
    assert (identity.team_id, identity.slack_user_id, identity.user) == (TEAM_ID, "U0NEW0001", user)
    client.logout()
    say(client, "reset CP-SL1", user_id="U0NEW0001")
    assert ChargerCommand.objects.get().requested_by == user


def test_an_old_or_forged_link_links_nobody(client, workspace, operator):
    client.force_login(operator)
    forged = signing.dumps({"t": TEAM_ID, "u": "U0EVIL"}, salt="another-salt")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(signing.TimestampSigner, "timestamp", lambda self: "0")
        old = signing.dumps({"t": TEAM_ID, "u": "U0LATE"}, salt=LINK_SALT)
    expired = client.post(reverse("slack:link", kwargs={"token": old}))
    bad = client.post(reverse("slack:link", kwargs={"token": forged}))

    assert expired.status_code == 400
    assert "expired" in expired.content.decode()
    assert bad.status_code == 400
    assert SlackIdentity.objects.count() == 0


def test_only_a_superuser_links_a_slack_account_to_another_operator(
    client, workspace, make_user, operator
):
    staff = make_user("slack.add_slackidentity", "slack.view_slackidentity")
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    client.force_login(staff)
    add = reverse("admin:slack_slackidentity_add")
    data = {"team_id": TEAM_ID, "slack_user_id": "U0STAFF01"}

    refused = client.post(add, {**data, "user": operator.pk})
    own = client.post(add, {**data, "user": staff.pk})

    assert "Only a superuser links a Slack account to another operator." in (
        refused.content.decode()
    )
    assert own.status_code == 302
    assert SlackIdentity.objects.get().user == staff


def test_an_operator_of_one_site_neither_sees_nor_commands_another_sites_station(
    client, linked, station
):
    from django.contrib.auth.models import Permission

    from apps.chargers.models import Site, SiteMembership

    user = linked(*COMMAND_PERMS)
    user.user_permissions.remove(Permission.objects.get(codename="all_sites"))
    mine = ChargingStation.objects.create(charger_id="CP-MINE", site=Site.objects.create(name="A"))
    SiteMembership.objects.create(user=user, site=mine.site)
    station.site = Site.objects.create(name="B")
    station.save(update_fields=["site"])

    assert say(client, "status") == "🔴 CP-MINE"
    assert say(client, "status CP-SL1") == "No station CP-SL1."
    assert say(client, "reset CP-SL1 hard") == "No station CP-SL1."
    assert not ChargerCommand.objects.exists()
