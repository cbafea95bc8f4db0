"""The admin index grouped by what operators do, not alphabetically by app.

Live, Stations, Sessions, Commands, Security and Setup hold the models operators use; "More"
holds the rarely used ones (API tokens, Celery schedules, sign-in attempts, the audit log)
and any model an app registers later without a place here, so no model is ever left out.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

MORE = "more"

# (key, name) in the order they show.
GROUPS = [
    ("live", _("Live")),
    ("stations", _("Stations")),
    ("sessions", _("Sessions")),
    ("commands", _("Commands")),
    ("security", _("Security")),
    ("setup", _("Setup")),
    (MORE, _("More")),
]

# "app_label.ModelName" → group; the order within a group is the order here.
PLACES = {
    "ocpp.MessageLog": "live",
    "chargers.StatusEvent": "live",
    "hardware.CardScan": "live",
    "chargers.ChargingStation": "stations",
    "chargers.Site": "stations",
    "simulator.Simulator": "stations",
    "security.InstalledCertificate": "stations",
    "transactions.Transaction": "sessions",
    "reservations.Reservation": "sessions",
    "rfid.IdTag": "sessions",
    "transactions.MeterValue": "sessions",
    "energy.EnergyAccount": "sessions",
    "energy.LedgerEntry": "sessions",
    "energy.Tariff": "sessions",
    "payments.TopUp": "sessions",
    "portal.Receipt": "sessions",
    "odoo.SessionSale": "sessions",
    "commands.ChargerCommand": "commands",
    "maintenance.FirmwareUpdate": "commands",
    "maintenance.DiagnosticsRequest": "commands",
    "maintenance.FirmwareFile": "commands",
    "chargers.DataTransfer": "commands",
    "chargers.StationReport": "commands",
    "auth.User": "security",
    "auth.Group": "security",
    "security.SecurityEvent": "security",
    "security.IssuedCertificate": "security",
    "nodes.Node": "setup",
    "payments.ProcessorConfig": "setup",
    "hardware.AccessPoint": "setup",
    "hardware.ServiceStatus": "setup",
    "lifecycle.UpdatePolicy": "setup",
    "lifecycle.Upgrade": "setup",
    "odoo.OdooInstance": "setup",
    "odoo.OdooUser": "setup",
    "odoo.TariffProduct": "setup",
    "slack.SlackWorkspace": "setup",
    "slack.SlackChannelRoute": "setup",
    "slack.SlackIdentity": "setup",
    "dashboard.Favorite": "setup",
    # Tucked away: rarely used, or kept by libraries for their own bookkeeping.
    "authtoken.TokenProxy": MORE,
    "auditlog.LogEntry": MORE,
    "axes.AccessAttempt": MORE,
    "axes.AccessFailureLog": MORE,
    "axes.AccessLog": MORE,
}
_ORDER = {label: index for index, label in enumerate(PLACES)}


def admin_index_groups(app_list: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the admin's app list regrouped: [{"key", "name", "models"}] without empty groups.

    Each model dict is the admin's own (name, admin_url, add_url, perms...), with the app's
    name added as "app_name"; models without a place go to "More", sorted by name.
    """
    placed: dict[str, list[tuple[tuple[int, str], dict[str, Any]]]] = {
        key: [] for key, _name in GROUPS
    }
    for app in app_list:
        for model in app["models"]:
            label = f"{app['app_label']}.{model['object_name']}"
            group = PLACES.get(label, MORE)
            order = (_ORDER.get(label, len(_ORDER)), str(model["name"]).casefold())
            placed[group].append((order, {**model, "app_name": app["name"]}))
    return [
        {
            "key": key,
            "name": name,
            "models": [model for _o, model in sorted(placed[key], key=_first)],
        }
        for key, name in GROUPS
        if placed[key]
    ]


def _first(item: tuple[tuple[int, str], dict[str, Any]]) -> tuple[int, str]:
    return item[0]
