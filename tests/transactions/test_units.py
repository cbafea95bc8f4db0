from __future__ import annotations

import pytest

from apps.transactions.units import normalize


@pytest.mark.parametrize(
    ("measurand", "unit", "value", "expected"),
    [
        ("Energy.Active.Import.Register", "kWh", "12.5", (12500.0, "Wh")),
        ("Energy.Active.Import.Register", "Wh", "12", (12.0, "Wh")),
        ("Energy.Active.Import.Register", "", "7", (7.0, "Wh")),
        ("Energy.Reactive.Import.Register", "kvarh", "2", (2000.0, "varh")),
        ("Power.Active.Import", "kW", "11", (11000.0, "W")),
        ("Power.Active.Import", "", "500", (500.0, "W")),
        ("Current.Import", "", "16", (16.0, "A")),
        ("Voltage", "V", "230", (230.0, "V")),
        ("SoC", "", "80", (80.0, "Percent")),
        ("Temperature", "K", "300.15", (pytest.approx(27.0), "Celsius")),
        ("Temperature", "Fahrenheit", "212", (pytest.approx(100.0), "Celsius")),
    ],
)
def test_it_normalises_to_base_units(measurand, unit, value, expected):
    assert normalize(measurand, unit, value) == expected


def test_signed_and_non_numeric_values_are_kept_raw_only():
    assert normalize("Energy.Active.Import.Register", "Wh", "AB12", "SignedData") == (None, "")
    assert normalize("Energy.Active.Import.Register", "Wh", "n/a") == (None, "")
