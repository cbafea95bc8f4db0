"""Normalise OCPP sampled values to base units: Wh, W, varh, var, VA, A, V, Hz, %, °C."""

from __future__ import annotations

# Unit each measurand family is reported in when the station names none (OCPP defaults).
_DEFAULT_UNITS = {
    "Energy.Active": "Wh",
    "Energy.Reactive": "varh",
    "Energy.Apparent": "VAh",
    "Power.Active": "W",
    "Power.Reactive": "var",
    "Power.Offered": "W",
    "Power.Factor": "",
    "Current": "A",
    "Voltage": "V",
    "Frequency": "Hz",
    "SoC": "Percent",
    "Temperature": "Celsius",
    "RPM": "RPM",
}

# unit → (base unit, factor)
_SCALE = {
    "Wh": ("Wh", 1.0),
    "kWh": ("Wh", 1000.0),
    "varh": ("varh", 1.0),
    "kvarh": ("varh", 1000.0),
    "VAh": ("VAh", 1.0),
    "kVAh": ("VAh", 1000.0),
    "W": ("W", 1.0),
    "kW": ("W", 1000.0),
    "var": ("var", 1.0),
    "kvar": ("var", 1000.0),
    "VA": ("VA", 1.0),
    "kVA": ("VA", 1000.0),
    "A": ("A", 1.0),
    "V": ("V", 1.0),
    "Hz": ("Hz", 1.0),
    "Percent": ("Percent", 1.0),
    "Celsius": ("Celsius", 1.0),
    "K": ("Celsius", 1.0),  # offset applied below
    "Fahrenheit": ("Celsius", 1.0),  # offset applied below
}


def default_unit(measurand: str) -> str:
    for prefix, unit in _DEFAULT_UNITS.items():
        if measurand.startswith(prefix):
            return unit
    return ""


def normalize(
    measurand: str, unit: str, value: str, fmt: str = "", multiplier: int = 0
) -> tuple[float | None, str]:
    """Return (value in base unit, base unit); (None, "") for signed or non-numeric values.

    `multiplier` is OCPP 2.x's power of ten applied to the value before its unit.
    """
    if fmt == "SignedData":
        return None, ""
    try:
        number = float(value) * 10**multiplier
    except (TypeError, ValueError):
        return None, ""
    unit = unit or default_unit(measurand)
    base, factor = _SCALE.get(unit, (unit, 1.0))
    if unit == "K":
        return number - 273.15, base
    if unit == "Fahrenheit":
        return (number - 32.0) * 5.0 / 9.0, base
    return number * factor, base
