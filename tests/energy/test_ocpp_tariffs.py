"""Tariff versions as OCPP 2.1 TariffType, the driver's language, the tariffs a station holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import translation

from apps.chargers.models import ChargingStation
from apps.commands.errors import CommandError
from apps.commands.models import ChargerCommand
from apps.commands.registry import apply_effects, operations_for
from apps.devicemodel.models import DeviceVariable
from apps.energy import operations, selectors, services
from apps.energy.driver_texts import price_message, tariff_price_text, total_message
from apps.energy.models import EnergyAccount, HeldTariff, Tariff
from apps.energy.ocpp_tariffs import ocpp_tariff_id, parse_ocpp_tariff_id, tariff_type
from apps.energy.pricing import Prices
from apps.protocol import schemas
from apps.protocol.errors import OcppError
from apps.protocol.versions import V21

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)

TARIFFS = {
    "flat": {"energy_price": "0.30"},
    "banded": {
        "energy_price": "0.40",
        "bands": [
            {"from": "22:00", "to": "06:00", "energy_price": "0.20"},
            {"from": "12:00", "to": "14:00", "energy_price": "0.25"},
        ],
    },
    "time": {"time_price": "0.05"},
    "idle": {"energy_price": "0.30", "idle_price": "0.10", "idle_grace_minutes": 15},
    "fee": {"session_fee": "1.50"},
    "vat": {"energy_price": "0.30", "time_price": "0.01", "vat_percent": "22"},
    "everything": {
        "energy_price": "0.35",
        "time_price": "0.02",
        "idle_price": "0.20",
        "idle_grace_minutes": 10,
        "session_fee": "0.50",
        "vat_percent": "22",
        "bands": [{"from": "23:00", "to": "07:00", "energy_price": "0.18"}],
    },
}


def make_tariff(code: str = "std", **fields) -> Tariff:
    return Tariff.objects.create(
        code=code, name=f"Tariff {code}", valid_from=T0 - timedelta(days=1), **fields
    )


@pytest.mark.parametrize("kind", sorted(TARIFFS))
def test_each_kind_of_tariff_is_a_valid_21_tariff_type(kind):
    tariff = make_tariff(kind, **TARIFFS[kind])
    converted = tariff_type(tariff)
    # The schemas the server validates every 2.1 message with: SetDefaultTariff,
    # ChangeTransactionTariff and the Authorize answer carry a TariffType.
    schemas.validate_request(V21, "SetDefaultTariff", {"evseId": 0, "tariff": converted})
    schemas.validate_request(
        V21, "ChangeTransactionTariff", {"transactionId": "TX-1", "tariff": converted}
    )
    schemas.validate_response(
        V21, "Authorize", {"idTokenInfo": {"status": "Accepted"}, "tariff": converted}
    )
    assert converted["tariffId"] == f"{kind}-v1"
    assert converted["currency"] == "EUR"


def test_a_tariff_type_that_breaks_the_schema_is_caught_by_the_check():
    # The check above can fail: a price element without its price is refused.
    with pytest.raises(OcppError):
        schemas.validate_request(
            V21,
            "SetDefaultTariff",
            {
                "evseId": 0,
                "tariff": {"tariffId": "x", "currency": "EUR", "energy": {"prices": [{}]}},
            },
        )


def test_the_parts_of_a_tariff_map_to_its_price_elements():
    converted = tariff_type(make_tariff("all", **TARIFFS["everything"]))
    vat = [{"type": "VAT", "tax": 22.0}]
    assert converted["energy"] == {
        "prices": [
            {"priceKwh": 0.18, "conditions": {"startTimeOfDay": "23:00", "endTimeOfDay": "07:00"}},
            {"priceKwh": 0.35},
        ],
        "taxRates": vat,
    }
    assert converted["chargingTime"] == {"prices": [{"priceMinute": 0.02}], "taxRates": vat}
    # Our time price runs while idle too; the idle fee from the grace on.
    assert converted["idleTime"] == {
        "prices": [
            {"priceMinute": 0.22, "conditions": {"minIdleTime": 600}},
            {"priceMinute": 0.02},
        ],
        "taxRates": vat,
    }
    assert converted["fixedFee"] == {"prices": [{"priceFixed": 0.5}], "taxRates": vat}
    assert converted["validFrom"] == "2026-11-26T10:00:00.000Z"


def test_a_flat_tariff_has_only_an_energy_price_and_no_tax():
    converted = tariff_type(make_tariff("flat", energy_price="0.30"))
    assert converted["energy"] == {"prices": [{"priceKwh": 0.3}]}
    assert not {"chargingTime", "idleTime", "fixedFee"} & set(converted)


def test_the_description_is_in_each_driver_language(settings):
    settings.LANGUAGE_CODE = "en"
    converted = tariff_type(make_tariff("vat", **TARIFFS["vat"]))
    assert converted["description"] == [
        {
            "format": "UTF8",
            "language": "en",
            "content": "Tariff vat: 0.30 EUR/kWh + 0.01 EUR/min, plus VAT 22%",
        },
        {
            "format": "UTF8",
            "language": "it",
            "content": "Tariff vat: 0,30 EUR/kWh + 0,01 EUR/min, più IVA 22%",
        },
    ]


def test_tariff_ids_name_code_and_version():
    tariff = make_tariff("night-rate", energy_price="0.2")
    assert ocpp_tariff_id(tariff) == "night-rate-v1"
    assert parse_ocpp_tariff_id("night-rate-v1") == ("night-rate", 1)
    assert parse_ocpp_tariff_id("someone-elses") is None


def test_the_price_text_in_italian():
    prices = Prices(
        energy_price=Decimal("0.40"),
        time_price=Decimal("0.125"),
        idle_price=Decimal("0.10"),
        session_fee=Decimal("1"),
        vat_percent=Decimal("22"),
        bands=Prices.of(make_tariff("b", **TARIFFS["banded"])).bands,
    )
    with translation.override("it"):
        text = tariff_price_text(prices)
    assert text == (
        "0,40 EUR/kWh + 0,125 EUR/min + sosta 0,10 EUR/min + 1,00 EUR/sessione, più IVA 22%,"
        " altri prezzi dell'energia in alcune fasce orarie"
    )
    assert price_message(Prices(energy_price=Decimal("0.3")), "it") == {
        "format": "UTF8",
        "language": "it",
        "content": "0,30 EUR/kWh",
    }
    assert total_message(Decimal("5.00"), "EUR", "it")["content"] == "Totale 5,00 EUR"
    assert total_message(Decimal("5.00"), "EUR", "en")["content"] == "Total 5.00 EUR"
    with translation.override("it"):
        assert tariff_price_text(Prices()) == "gratuito"


def test_an_account_without_a_language_speaks_the_nodes(settings):
    settings.LANGUAGE_CODE = "it"
    account = EnergyAccount.objects.create(name="A")
    assert account.driver_language == "it"
    assert services.account_language_set(account=account, language="en") is True
    assert services.account_language_set(account=account, language="en") is False
    account.refresh_from_db()
    assert account.driver_language == "en"


def test_a_language_this_node_does_not_have_is_refused():
    account = EnergyAccount.objects.create(name="A")
    with pytest.raises(services.AccountError, match="unknown language"):
        services.account_language_set(account=account, language="xx")


def station(charger_id: str, version: str = "ocpp2.1", connected: bool = True) -> ChargingStation:
    return ChargingStation.objects.create(
        charger_id=charger_id, ocpp_version=version, is_connected=connected
    )


def test_a_default_tariff_goes_to_connected_21_stations_without_their_own():
    plain = station("PLAIN")
    own = station("OWN")
    station("OLD", version="ocpp2.0.1")
    station("AWAY", connected=False)
    switched_off = station("OFF")
    DeviceVariable.objects.create(
        station=switched_off,
        component="TariffCostCtrlr",
        variable="Enabled",
        variable_instance="Tariff",
        value="false",
    )
    DeviceVariable.objects.create(
        station=plain,
        component="TariffCostCtrlr",
        variable="Available",
        variable_instance="Tariff",
        value="true",
    )
    make_tariff("own", energy_price="0.5", station=own)
    default = make_tariff("default", energy_price="0.3")
    assert [s.charger_id for s in selectors.default_tariff_stations(tariff=default)] == ["PLAIN"]
    own_tariff = Tariff.objects.get(code="own")
    assert [s.charger_id for s in selectors.default_tariff_stations(tariff=own_tariff)] == ["OWN"]
    # A group's tariff is the drivers', never a station's default.
    group = make_tariff("fleet", energy_price="0.2", group="fleet")
    assert selectors.default_tariff_stations(tariff=group) == []


def test_the_driver_tariff_is_the_groups_only():
    here = station("HERE")
    make_tariff("default", energy_price="0.3")
    assert selectors.driver_tariff(station_id=here.pk, group="fleet", at=T0) is None
    fleet = make_tariff("fleet", energy_price="0.2", group="fleet")
    assert selectors.driver_tariff(station_id=here.pk, group="fleet", at=T0) == fleet
    assert selectors.driver_tariff(station_id=here.pk, group="", at=T0) is None
    found = selectors.driver_tariff_type(station_id=here.pk, group="fleet", at=T0)
    assert found is not None and found["tariffId"] == "fleet-v1"


def answered(station_row, action: str, payload: dict, response: dict) -> ChargerCommand:
    command = ChargerCommand.objects.create(
        station=station_row, action=action, payload=payload, timeout_s=30, response=response
    )
    apply_effects(command=command, response=response)
    return command


def test_an_accepted_default_tariff_is_held_and_a_rejected_one_is_not():
    here = station("HELD")
    first = make_tariff("std", energy_price="0.3")
    second = make_tariff("other", energy_price="0.4")
    answered(
        here,
        "SetDefaultTariff",
        {"evseId": 0, "tariff": tariff_type(first)},
        {"status": "Accepted"},
    )
    answered(
        here,
        "SetDefaultTariff",
        {"evseId": 0, "tariff": tariff_type(second)},
        {"status": "ConditionNotSupported", "statusInfo": {"reasonCode": "NoIdle"}},
    )
    held = list(HeldTariff.objects.filter(station=here).values_list("tariff_id", "tariff_version"))
    assert held == [("std-v1", first.pk)]


def test_get_tariffs_replaces_and_clear_tariffs_forgets_what_is_held():
    here = station("SYNC")
    services.held_tariff_set(station_id=here.pk, evse_id=0, tariff_id="gone-v1")
    answered(
        here,
        "GetTariffs",
        {"evseId": 0},
        {
            "status": "Accepted",
            "tariffAssignments": [
                {"tariffId": "a-v1", "tariffKind": "DefaultTariff", "evseIds": [1, 2]},
                {"tariffId": "b-v3", "tariffKind": "DriverTariff", "idTokens": ["CARD"]},
            ],
        },
    )
    rows = HeldTariff.objects.filter(station=here).values_list("evse_id", "tariff_id", "kind")
    assert sorted(rows) == [
        (0, "b-v3", "DriverTariff"),
        (1, "a-v1", "DefaultTariff"),
        (2, "a-v1", "DefaultTariff"),
    ]
    answered(
        here,
        "ClearTariffs",
        {"tariffIds": ["a-v1"]},
        {"clearTariffsResult": [{"tariffId": "a-v1", "status": "Accepted"}]},
    )
    assert list(HeldTariff.objects.filter(station=here).values_list("tariff_id", flat=True)) == [
        "b-v3"
    ]
    # A refused clear changes nothing.
    answered(here, "ClearTariffs", {}, {"clearTariffsResult": [{"status": "Rejected"}]})
    assert HeldTariff.objects.filter(station=here).count() == 1
    answered(here, "ClearTariffs", {}, {"clearTariffsResult": [{"status": "Accepted"}]})
    assert HeldTariff.objects.filter(station=here).count() == 0


def test_tariff_operations_are_offered_to_21_stations_only():
    names = {"set_default_tariff", "get_tariffs", "clear_tariffs", "change_transaction_tariff"}
    assert names <= {op.name for op in operations_for(station("NEW"))}
    assert not names & {op.name for op in operations_for(station("OLD", "ocpp2.0.1"))}
    assert not names & {op.name for op in operations_for(station("OLDER", "ocpp1.6"))}


def test_an_unknown_tariff_is_a_clear_error():
    with pytest.raises(CommandError, match="no tariff version"):
        operations.set_default_tariff(station=station("X"), tariff=999)


def test_get_tariffs_for_one_evse_replaces_only_that_evse():
    here = station("EVSE")
    services.held_tariff_set(station_id=here.pk, evse_id=1, tariff_id="a-v1")
    services.held_tariff_set(station_id=here.pk, evse_id=2, tariff_id="b-v1")
    answered(
        here,
        "GetTariffs",
        {"evseId": 2},
        {
            "status": "Accepted",
            "tariffAssignments": [
                {"tariffId": "c-v1", "tariffKind": "DefaultTariff", "validFrom": "not a time"}
            ],
        },
    )
    rows = HeldTariff.objects.filter(station=here).values_list("evse_id", "tariff_id", "valid_from")
    assert sorted(rows) == [(1, "a-v1", None), (2, "c-v1", None)]
    answered(here, "GetTariffs", {"evseId": 1}, {"status": "NoTariff"})
    assert list(HeldTariff.objects.filter(station=here).values_list("tariff_id", flat=True)) == [
        "c-v1"
    ]


def test_a_tariff_valid_later_is_held_beside_the_current_one():
    here = station("LATER")
    services.held_tariff_set(station_id=here.pk, evse_id=0, tariff_id="a-v1", now=T0)
    services.held_tariff_set(
        station_id=here.pk, evse_id=0, tariff_id="a-v2", valid_from=T0 + timedelta(days=1), now=T0
    )
    assert HeldTariff.objects.filter(station=here).count() == 2
    services.held_tariff_set(station_id=here.pk, evse_id=0, tariff_id="a-v3", valid_from=T0, now=T0)
    held = HeldTariff.objects.filter(station=here).values_list("tariff_id", flat=True)
    assert list(held) == ["a-v3"]
