"""Server-rendered SVG line charts: no script needed to see a transaction's curves."""

from __future__ import annotations

import math
from datetime import datetime

from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

# Points drawn at most; longer series are thinned evenly (the last point is always kept).
MAX_POINTS = 600
WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 28, 34


def _nice_ceiling(value: float) -> float:
    """Return a round number (1, 2, 2.5 or 5 times a power of ten) not below `value`."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def _thin(points: list[tuple[datetime, float]]) -> list[tuple[datetime, float]]:
    if len(points) <= MAX_POINTS:
        return points
    stride = len(points) / (MAX_POINTS - 1)
    thinned = [points[int(i * stride)] for i in range(MAX_POINTS - 1)]
    return [*thinned, points[-1]]


def _time_label(value: datetime, span_s: float) -> str:
    local = timezone.localtime(value)
    return date_format(local, "H:i:s" if span_s < 600 else "H:i")


def line_chart(
    points: list[tuple[datetime, float]],
    *,
    title: str,
    unit: str,
    scale: float = 1.0,
    decimals: int = 1,
    css_class: str = "",
) -> SafeString:
    """Return an SVG chart of `points` (time, value); values are divided by `scale` for show.

    The line is one <path>; the area under it a second one. An empty series gives a chart
    frame that says so.
    """
    points = _thin(sorted(points))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    values = [value / scale for _, value in points]
    top = _nice_ceiling(max([*values, 0.0]))
    bottom = min(0.0, *values) if values else 0.0
    if points:
        t0, t1 = points[0][0], points[-1][0]
        span = max((t1 - t0).total_seconds(), 1.0)
    else:
        t0 = t1 = timezone.now()
        span = 1.0

    def x(when: datetime) -> float:
        return LEFT + (when - t0).total_seconds() / span * plot_w if len(points) > 1 else LEFT

    def y(value: float) -> float:
        return TOP + plot_h - (value - bottom) / ((top - bottom) or 1.0) * plot_h

    coordinates = [(x(when), y(value)) for (when, _), value in zip(points, values, strict=True)]
    if len(coordinates) == 1:
        coordinates.append((LEFT + plot_w, coordinates[0][1]))
    line = " ".join(
        f"{'M' if i == 0 else 'L'}{cx:.1f},{cy:.1f}" for i, (cx, cy) in enumerate(coordinates)
    )
    area = ""
    if coordinates:
        base = y(max(bottom, 0.0))
        area = f"{line} L{coordinates[-1][0]:.1f},{base:.1f} L{coordinates[0][0]:.1f},{base:.1f} Z"
    grid = format_html_join(
        "",
        '<line class="cc-chart-grid" x1="{}" x2="{}" y1="{}" y2="{}"></line>'
        '<text class="cc-chart-tick" x="{}" y="{}" text-anchor="end">{}</text>',
        (
            (
                LEFT,
                LEFT + plot_w,
                f"{y(level):.1f}",
                f"{y(level):.1f}",
                LEFT - 6,
                f"{y(level) + 4:.1f}",
                number_format(level, decimals, use_l10n=True),
            )
            for level in (bottom + (top - bottom) * i / 4 for i in range(5))
        ),
    )
    ticks = ""
    if points:
        middle = points[0][0] + (points[-1][0] - points[0][0]) / 2
        ticks = format_html_join(
            "",
            '<text class="cc-chart-tick" x="{}" y="{}" text-anchor="{}">{}</text>',
            (
                (f"{x(when):.1f}" if len(points) > 1 else pos, HEIGHT - 12, anchor, label)
                for when, anchor, pos, label in (
                    (points[0][0], "start", LEFT, _time_label(points[0][0], span)),
                    (middle, "middle", LEFT + plot_w / 2, _time_label(middle, span)),
                    (points[-1][0], "end", LEFT + plot_w, _time_label(points[-1][0], span)),
                )
            ),
        )
    shapes: SafeString | str = ""
    if coordinates:
        shapes = format_html(
            '<path class="cc-chart-area" d="{}"></path>'
            '<path class="cc-chart-line" d="{}" fill="none"></path>',
            area,
            line,
        )
    else:
        shapes = format_html(
            '<text class="cc-chart-empty" x="{}" y="{}" text-anchor="middle">{}</text>',
            LEFT + plot_w / 2,
            TOP + plot_h / 2,
            "—",
        )
    return format_html(
        '<svg class="cc-chart {}" viewBox="0 0 {} {}" role="img" aria-label="{}" '
        'preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">'
        "<title>{}</title>"
        '<text class="cc-chart-title" x="{}" y="16">{} ({})</text>'
        "{}{}{}"
        '<line class="cc-chart-axis" x1="{}" x2="{}" y1="{}" y2="{}"></line>'
        "</svg>",
        css_class,
        WIDTH,
        HEIGHT,
        title,
        title,
        LEFT,
        title,
        unit,
        grid,
        ticks,
        shapes,
        LEFT,
        LEFT + plot_w,
        f"{TOP + plot_h:.1f}",
        f"{TOP + plot_h:.1f}",
    )
