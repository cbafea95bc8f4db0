"""`/constellation …`: the slash command, answered for the operator linked to the Slack user.

- `help`: the usage.
- `link`: a link that ties the Slack user to the operator who opens it, signed in.
- `status [station]` (chargers.view_chargingstation): every station's connection, or one
  station's connection, connectors and running sessions.
- `start <station> <connector> <idTag>`, `stop <station> [transaction]` (the only running
  session when omitted), `reset <station> [soft|hard]`: what the station page asks of an
  operator who sends a command (chargers.change_chargingstation and
  commands.add_chargercommand).

Commands go through the registered operations (`apps.commands.registry.run_operation`), the
same senders the station page's forms use: one path, `source="slack"`, the operator as
`requested_by`. Every answer is ephemeral (only the asking user sees it). The answer says
the command was sent (Slack wants one within 3 s); the charger's answer follows through the
command's `response_url`, from the background (`outcome_tell`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from apps.chargers.models import ChargingStation
from apps.chargers.tenancy import stations_visible_to
from apps.commands.errors import CommandError
from apps.commands.models import ChargerCommand, CommandStatus
from apps.commands.registry import run_operation
from apps.commands.services import command_wait
from apps.integrations.slack import client
from apps.integrations.slack.background import run_later
from apps.integrations.slack.selectors import identity_user, workspace_active
from apps.integrations.slack.services import identity_link_token
from apps.transactions.models import Transaction

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

SOURCE = "slack"
VIEW_PERMS = ("chargers.view_chargingstation",)
# What the station page asks of an operator who sends a command (station_admin._can_command).
COMMAND_PERMS = ("chargers.change_chargingstation", "commands.add_chargercommand")
STATUS_LIST_LIMIT = 25
OUTCOME_TASK = "apps.integrations.slack.tasks.outcome"
# Seconds waited for a command's outcome beyond its own timeout.
OUTCOME_GRACE_S = 5.0


def usage() -> str:
    return _(
        "Usage:\n"
        "`/constellation status [station]`\n"
        "`/constellation start <station> <connector> <idTag>`\n"
        "`/constellation stop <station> [transaction]`\n"
        "`/constellation reset <station> [soft|hard]`\n"
        "`/constellation link` (tie your Slack account to your Constellation operator)"
    )


def answer(form: Mapping[str, str], *, base_url: str) -> str:
    """Return the (ephemeral) answer to a verified slash command's form fields."""
    team_id = form.get("team_id", "")
    slack_user = form.get("user_id", "")
    words = form.get("text", "").split()
    verb = words[0].lower() if words else "help"
    args = words[1:]
    if verb == "help":
        return usage()
    if workspace_active(team_id=team_id) is None:
        return _("Constellation is not installed in this Slack workspace.")
    if verb == "link":
        token = identity_link_token(team_id=team_id, slack_user_id=slack_user)
        url = base_url.rstrip("/") + reverse("slack:link", kwargs={"token": token})
        return _(
            "Open this link within 15 minutes, signed in to Constellation, to link your "
            "Slack account to your operator account: %(url)s"
        ) % {"url": url}
    user = identity_user(team_id=team_id, slack_user_id=slack_user)
    if user is None:
        return _(
            "Your Slack account is not linked to a Constellation operator: type "
            "`/constellation link`, or ask an administrator to link it."
        )
    if verb == "status":
        if not user.has_perms(VIEW_PERMS):
            return _("You may not view stations (permission: view charging station).")
        return _status(args, user)
    if verb in ("start", "stop", "reset"):
        if not user.has_perms(COMMAND_PERMS):
            return _(
                "You may not send commands to stations (permissions: change charging "
                "station, add charger command)."
            )
        command, text = _command(verb, args, user)
        response_url = form.get("response_url", "")
        if (
            command is not None
            and not command.is_final
            and client.response_url_allowed(response_url)
        ):
            run_later(OUTCOME_TASK, outcome_tell, command.pk, response_url)
        return text
    return _("Unknown command %(verb)s.") % {"verb": verb} + "\n" + usage()


def _station(name: str, user: AbstractBaseUser) -> ChargingStation | None:
    # Another site's station is as unknown as one that does not exist (docs/sites.md).
    return stations_visible_to(user).filter(charger_id=name).first()


def _when(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else "-"


def _status(args: list[str], user: AbstractBaseUser) -> str:
    if not args:
        stations = list(
            stations_visible_to(user)
            .order_by("charger_id")
            .values_list("charger_id", "is_connected")[: STATUS_LIST_LIMIT + 1]
        )
        if not stations:
            return _("No stations yet.")
        lines = [
            f"{'🟢' if connected else '🔴'} {charger_id}"
            for charger_id, connected in stations[:STATUS_LIST_LIMIT]
        ]
        if len(stations) > STATUS_LIST_LIMIT:
            lines.append(_("…and more: name a station."))
        return "\n".join(lines)
    station = _station(args[0], user)
    if station is None:
        return _("No station %(station)s.") % {"station": args[0]}
    state = _("connected") if station.is_connected else _("offline")
    lines = [f"*{station.charger_id}*: {state}"]
    for connector in station.connectors.order_by("connector_id"):
        lines.append(
            _("connector %(n)s: %(status)s")
            % {"n": connector.connector_id, "status": connector.status or "-"}
            + (f" ({connector.error_code})" if connector.error_code not in ("", "NoError") else "")
        )
    running = Transaction.objects.filter(station=station, stopped_at__isnull=True).select_related(
        "connector"
    )
    for tx in running.order_by("started_at"):
        lines.append(
            _("session %(id)s on connector %(n)s since %(since)s")
            % {
                "id": tx.transaction_id,
                "n": tx.connector.connector_id if tx.connector else "-",
                "since": _when(tx.started_at),
            }
        )
    if not running.exists():
        lines.append(_("no session running"))
    return "\n".join(lines)


def _sent(command: ChargerCommand, label: str) -> str:
    if command.status == CommandStatus.OFFLINE:
        return _("%(label)s not sent to %(station)s: the station is not connected.") % {
            "label": label,
            "station": command.station.charger_id,
        }
    return _(
        "%(label)s sent to %(station)s (command %(id)s, %(status)s); its answer shows on "
        "the station page."
    ) % {
        "label": label,
        "station": command.station.charger_id,
        "id": command.pk,
        "status": command.get_status_display(),
    }


def _command(
    verb: str, args: list[str], user: AbstractBaseUser
) -> tuple[ChargerCommand | None, str]:
    """Send the command; return it (None: not sent) and the answer."""
    if not args:
        return None, usage()
    station = _station(args[0], user)
    if station is None:
        return None, _("No station %(station)s.") % {"station": args[0]}
    options = {"requested_by": user, "source": SOURCE}
    try:
        if verb == "start":
            if len(args) != 3 or not args[1].isdigit() or int(args[1]) < 1:
                return None, _("Usage: `/constellation start <station> <connector> <idTag>`")
            command = run_operation(
                station=station,
                operation="remote_start",
                arguments={"id_tag": args[2], "connector_id": int(args[1])},
                **options,
            )
            return command, _sent(command, _("Remote start"))
        if verb == "stop":
            if len(args) > 2:
                return None, _("Usage: `/constellation stop <station> [transaction]`")
            if len(args) == 2:
                transaction_id = args[1]
            else:
                running = list(
                    Transaction.objects.filter(
                        station=station, stopped_at__isnull=True
                    ).values_list("transaction_id", flat=True)[:2]
                )
                if len(running) != 1:
                    return None, (
                        _("No session is running on %(station)s.")
                        if not running
                        else _("Several sessions run on %(station)s: name the transaction.")
                    ) % {"station": station.charger_id}
                transaction_id = running[0]
            command = run_operation(
                station=station,
                operation="remote_stop",
                arguments={"transaction_id": transaction_id},
                **options,
            )
            return command, _sent(command, _("Remote stop"))
        mode = args[1].lower() if len(args) > 1 else "soft"
        if len(args) > 2 or mode not in ("soft", "hard"):
            return None, _("Usage: `/constellation reset <station> [soft|hard]`")
        command = run_operation(
            station=station, operation="reset", arguments={"hard": mode == "hard"}, **options
        )
        return command, _sent(command, _("Reset"))
    except (CommandError, ValueError) as exc:
        return None, _("Not sent: %(reason)s") % {"reason": exc}


def outcome_tell(command_id: int, response_url: str) -> None:
    """Wait for the command's outcome and tell it through the slash command's response_url."""
    command = ChargerCommand.objects.select_related("station").get(pk=command_id)
    command = command_wait(command=command, wait_s=command.timeout_s + OUTCOME_GRACE_S)
    with translation.override(settings.LANGUAGE_CODE):
        values = {
            "action": command.action,
            "station": command.station.charger_id,
            "status": command.get_status_display(),
            "detail": command.error_description or command.error_code,
        }
        if not command.is_final:
            text = _("%(action)s to %(station)s: no answer yet.") % values
        elif values["detail"]:
            text = _("%(action)s to %(station)s: %(status)s (%(detail)s).") % values
        else:
            text = _("%(action)s to %(station)s: %(status)s.") % values
    client.respond(url=response_url, text=text)
