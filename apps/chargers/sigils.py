"""The STATION root of sigils: `[STATION.<charger id>.<field>]` (docs/sigils.md).

Registered with `apps.nodes.sigils` by this app's ready(): nodes sits below chargers and
never names it. Only the fields below are reachable; credentials (`password_hash`) and the
SIM's identifiers are not among them.
"""

from __future__ import annotations

from django.utils.translation import gettext

from apps.chargers.models import ChargingStation
from apps.nodes.sigils import Field, Root, sigil_root_register, sigils_invalidate


def _connected(station: ChargingStation) -> str:
    return gettext("connected") if station.is_connected else gettext("offline")


STATION_FIELDS: dict[str, Field] = {
    "charger_id": Field(get=lambda station: station.charger_id),
    "name": Field(get=lambda station: str(station)),
    "site": Field(get=lambda station: station.site.name if station.site else ""),
    "vendor": Field(get=lambda station: station.vendor),
    "model": Field(get=lambda station: station.model),
    "serial_number": Field(get=lambda station: station.serial_number),
    "firmware_version": Field(get=lambda station: station.firmware_version),
    "ocpp_version": Field(get=lambda station: station.ocpp_version),
    "registration": Field(get=lambda station: station.get_registration_status_display()),
    "status": Field(get=_connected),
}


def _load(charger_id: str | None) -> ChargingStation | None:
    if not charger_id:
        return None
    return ChargingStation.objects.select_related("site").filter(charger_id=charger_id).first()


def station_root_register() -> None:
    """Register the STATION root (keyed by charger id)."""
    sigil_root_register(
        Root(
            name="STATION",
            fields=lambda: STATION_FIELDS,
            load=_load,
            keyed=True,
            permission="chargers.view_chargingstation",
        )
    )


def station_changed(**_kwargs: object) -> None:
    """Forget cached station values: a station or a site was saved or deleted."""
    sigils_invalidate("STATION")
