"""A tariff version as OCPP 2.1's TariffType (SetDefaultTariff, ChangeTransactionTariff,
AuthorizeResponse.tariff): what a 2.1 station needs to price a session itself.

- code and version: `tariffId` "<code>-v<version>".
- energy price per kWh and time-of-day bands: `energy.prices`, one element per band with its
  `startTimeOfDay` / `endTimeOfDay` (local time), then the energy price with no condition (a
  station takes the first element whose conditions hold, as our pricing takes the first band
  covering the moment).
- time price per minute: `chargingTime.prices`, and in `idleTime` too (ours runs from start
  to stop).
- idle fee per minute after the grace: `idleTime.prices`, time price + idle fee from
  `minIdleTime` = grace, the time price before.
- session fee: `fixedFee.prices`; VAT %: `taxRates` [{type "VAT", tax}] on each part.
- name and prices: `description`, one message per driver language of this node.
- valid from: `validFrom`.

All prices are net of VAT (`exclTax`), as OCPP's price elements are.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.utils import translation

from apps.core.timeutil import format_ocpp_datetime
from apps.energy.driver_texts import driver_languages, message, tariff_price_text
from apps.energy.pricing import Prices

if TYPE_CHECKING:
    from apps.energy.models import Tariff

# TariffType.description has at most 10 messages.
DESCRIPTIONS_MAX = 10


def ocpp_tariff_id(tariff: Tariff) -> str:
    """Return the OCPP tariffId of a tariff version: "<code>-v<version>" (at most 60 chars)."""
    return f"{tariff.code}-v{tariff.version}"


def parse_ocpp_tariff_id(tariff_id: str) -> tuple[str, int] | None:
    """Return (code, version) of a tariffId we made, None for another one."""
    code, sep, version = tariff_id.rpartition("-v")
    if not sep or not code or not version.isdigit():
        return None
    return code, int(version)


def _amount(value: Decimal) -> float:
    return float(value)


def _priced(elements: list[dict[str, Any]], taxes: list[dict[str, Any]]) -> dict:
    part: dict[str, Any] = {"prices": elements}
    if taxes:
        part["taxRates"] = taxes
    return part


def tariff_description(tariff: Tariff, prices: Prices | None = None) -> list[dict[str, str]]:
    """Return the tariff's name and prices as messages, one per driver language we have."""
    prices = prices or Prices.of(tariff)
    descriptions = []
    for language in driver_languages()[:DESCRIPTIONS_MAX]:
        with translation.override(language):
            text = f"{tariff.name}: {tariff_price_text(prices)}"
        descriptions.append(message(text, language))
    return descriptions


def tariff_type(tariff: Tariff) -> dict[str, Any]:
    """Return the tariff version as an OCPP 2.1 TariffType (JSON, camelCase)."""
    prices = Prices.of(tariff)
    taxes = [{"type": "VAT", "tax": _amount(prices.vat_percent)}] if prices.vat_percent else []
    result: dict[str, Any] = {
        "tariffId": ocpp_tariff_id(tariff),
        "currency": prices.currency.upper()[:3],
        "description": tariff_description(tariff, prices),
        "validFrom": format_ocpp_datetime(tariff.valid_from),
    }
    if prices.energy_price or prices.bands:
        energy = [
            {
                "priceKwh": _amount(band.energy_price),
                "conditions": {
                    "startTimeOfDay": band.start.strftime("%H:%M"),
                    "endTimeOfDay": band.end.strftime("%H:%M"),
                },
            }
            for band in prices.bands
        ]
        energy.append({"priceKwh": _amount(prices.energy_price)})
        result["energy"] = _priced(energy, taxes)
    if prices.time_price:
        result["chargingTime"] = _priced([{"priceMinute": _amount(prices.time_price)}], taxes)
    if prices.idle_price or prices.time_price:
        idle = [{"priceMinute": _amount(prices.time_price + prices.idle_price)}]
        if prices.idle_price and prices.idle_grace_minutes:
            idle[0]["conditions"] = {"minIdleTime": prices.idle_grace_minutes * 60}
            idle.append({"priceMinute": _amount(prices.time_price)})
        result["idleTime"] = _priced(idle, taxes)
    if prices.session_fee:
        result["fixedFee"] = _priced([{"priceFixed": _amount(prices.session_fee)}], taxes)
    return result
