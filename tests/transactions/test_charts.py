"""Server-rendered SVG charts of a transaction's energy and power."""

from __future__ import annotations

import re
from datetime import timedelta

from apps.core.charts import MAX_POINTS, line_chart
from apps.transactions.selectors import transaction_series
from tests.charging_data import T0


def test_the_series_are_power_and_energy_so_far(charging):
    power, energy = transaction_series(transaction=charging)
    assert [value for _, value in power.points] == [6000.0, 7000.0, 7400.0]
    assert [value for _, value in energy.points] == [100.0, 220.0, 350.0]


def test_a_chart_is_an_svg_with_one_line_through_every_point():
    points = [(T0 + timedelta(minutes=i), float(i * i)) for i in range(10)]
    svg = str(line_chart(points, title="Energy", unit="kWh", scale=1000))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    line = re.search(r'class="cc-chart-line" d="([^"]+)"', svg)[1]
    assert line.count("L") == 9 and line.startswith("M")


def test_long_series_are_thinned_and_empty_ones_say_so():
    points = [(T0 + timedelta(seconds=i), 1.0) for i in range(5000)]
    line = re.search(
        r'class="cc-chart-line" d="([^"]+)"', str(line_chart(points, title="P", unit="W"))
    )[1]
    assert line.count("L") == MAX_POINTS - 1
    empty = str(line_chart([], title="<P>", unit="W"))
    assert "cc-chart-line" not in empty and "&lt;P&gt;" in empty
