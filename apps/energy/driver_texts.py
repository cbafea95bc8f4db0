"""What a station shows the driver about prices, in the driver's language (docs/billing.md).

OCPP 2.x carries these as MessageContentType (`format`, `language`, `content`): the personal
message of a TransactionEventResponse and the description of a 2.1 tariff. Each text is
written under `translation.override(language)`, so gettext picks the driver's language and
numbers take its decimal separator ("0,40" in Italian).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.utils import formats, translation
from django.utils.translation import gettext as _

from apps.energy.pricing import Prices

# OCPP 2.1 MessageContentType.content is at most 1024 characters, 2.0.1's 512: the shorter.
MESSAGE_MAX = 512


def _number(amount: Decimal, places: int = 2) -> str:
    """An amount without trailing zeros beyond `places` decimals (0.4000 -> 0.40, 0.125)."""
    amount = amount.normalize()
    exponent = amount.as_tuple().exponent
    decimals = max(places, -exponent) if isinstance(exponent, int) else places
    return formats.number_format(amount, decimal_pos=decimals, use_l10n=True)


def tariff_price_text(prices: Prices) -> str:
    """Return a tariff's prices as one line for a station's display, in the active language."""
    unit = prices.currency
    parts = []
    if prices.energy_price or prices.bands:
        parts.append(
            _("%(price)s %(unit)s/kWh") % {"price": _number(prices.energy_price), "unit": unit}
        )
    if prices.time_price:
        parts.append(
            _("%(price)s %(unit)s/min") % {"price": _number(prices.time_price), "unit": unit}
        )
    if prices.idle_price:
        parts.append(
            _("idle %(price)s %(unit)s/min") % {"price": _number(prices.idle_price), "unit": unit}
        )
    if prices.session_fee:
        parts.append(
            _("%(price)s %(unit)s/session") % {"price": _number(prices.session_fee), "unit": unit}
        )
    text = " + ".join(parts) or _("free")
    if prices.vat_percent:
        text += _(", plus VAT %(rate)s%%") % {"rate": _number(prices.vat_percent, 0)}
    if prices.bands:
        text += _(", other energy prices at some hours")
    return text


def total_text(total: Decimal, currency: str) -> str:
    """Return a session's final cost as the station shows it, in the active language."""
    return _("Total %(amount)s %(currency)s") % {"amount": _number(total), "currency": currency}


def message(content: str, language: str) -> dict[str, str]:
    """Return an OCPP MessageContentType in `language`."""
    return {"format": "UTF8", "language": language, "content": content[:MESSAGE_MAX]}


def price_message(prices: Prices, language: str) -> dict[str, str]:
    """Return the tariff's prices as a message in `language`."""
    with translation.override(language):
        return message(tariff_price_text(prices), language)


def total_message(total: Decimal, currency: str, language: str) -> dict[str, str]:
    """Return a session's final cost as a message in `language`."""
    with translation.override(language):
        return message(total_text(total, currency), language)


def driver_languages() -> list[str]:
    """Return the languages drivers can have (settings.LANGUAGES), the node's first."""
    codes = [code for code, _name in settings.LANGUAGES]
    first = settings.LANGUAGE_CODE
    return [first, *(code for code in codes if code != first)] if first in codes else codes
