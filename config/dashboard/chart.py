"""The 14-day chart, drawn on the server as inline SVG: no JavaScript library, nothing fetched
from a CDN, and it prints and screenshots as the page does.

One line per kind of order, each point a day's volume linking to that day's changelist, with
its amount and count in the point's tooltip. Pixel positions are computed in Decimal like the
amounts they stand for, so no float ever touches an amount.
"""

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from wallet.money import display_amount

WIDTH, HEIGHT = 760, 260
LEFT, RIGHT, TOP, BOTTOM = 86, 24, 34, 26
GRIDLINES = 4
PIXEL = Decimal("0.1")


@dataclass(frozen=True)
class Point:
    day: date
    amount: Decimal
    count: int
    url: str


@dataclass(frozen=True)
class Series:
    kind: str
    label: str
    color: str
    points: list[Point]


def nice_ceiling(value: Decimal) -> Decimal:
    """The smallest 1, 2 or 5 times a power of ten at or above ``value``: round axis labels."""
    if value <= 0:
        return Decimal(1)
    magnitude = Decimal(10) ** value.adjusted()
    return next(step * magnitude for step in (1, 2, 5, 10) if value <= step * magnitude)


def chart_svg(*, days: list[date], series: list[Series]) -> SafeString:
    top_value = nice_ceiling(max((point.amount for line in series for point in line.points), default=Decimal(0)))
    plot_width, plot_height = Decimal(WIDTH - LEFT - RIGHT), Decimal(HEIGHT - TOP - BOTTOM)
    step = plot_width / max(len(days) - 1, 1)

    def x(index: int) -> Decimal:
        return (LEFT + step * index).quantize(PIXEL, ROUND_HALF_UP)

    def y(amount: Decimal) -> Decimal:
        return (TOP + plot_height * (1 - amount / top_value)).quantize(PIXEL, ROUND_HALF_UP)

    parts = [
        format_html(
            '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" width="100%" role="img" '
            'aria-label="{}" class="dashboard-chart">',
            WIDTH,
            HEIGHT,
            _("Volumes per day by kind, last %(days)s days") % {"days": len(days)},
        )
    ]
    for gridline in range(GRIDLINES + 1):
        value = top_value * gridline / GRIDLINES
        parts.append(
            format_html(
                '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#ddd"/>'
                '<text x="{}" y="{}" text-anchor="end" font-size="11" fill="#666">{}</text>',
                LEFT,
                WIDTH - RIGHT,
                y(value),
                y(value),
                LEFT - 6,
                y(value) + 4,
                display_amount(value),
            )
        )
    parts.extend(
        format_html(
            '<text x="{}" y="{}" text-anchor="middle" font-size="11" fill="#666">{}</text>',
            x(index),
            HEIGHT - 8,
            day.strftime("%m-%d"),
        )
        for index, day in enumerate(days)
    )
    for number, line in enumerate(series):
        parts.append(_legend(line, number))
        parts.append(_line(line, [(x(index), y(point.amount)) for index, point in enumerate(line.points)]))
    parts.append(SafeString("</svg>"))
    return format_html_join("", "{}", ((part,) for part in parts))


def _legend(line: Series, number: int) -> SafeString:
    left = LEFT + number * 130
    return format_html(
        '<rect x="{}" y="10" width="12" height="12" fill="{}"/><text x="{}" y="20" font-size="12">{}</text>',
        left,
        line.color,
        left + 16,
        line.label,
    )


def _line(line: Series, positions: list[tuple[Decimal, Decimal]]) -> SafeString:
    path = " ".join(f"{px},{py}" for px, py in positions)
    dots = format_html_join(
        "",
        '<a href="{}"><circle cx="{}" cy="{}" r="4" fill="{}"><title>{}</title></circle></a>',
        (
            (
                point.url,
                px,
                py,
                line.color,
                _("%(kind)s %(day)s: %(amount)s in %(count)s")
                % {
                    "kind": line.label,
                    "day": point.day.isoformat(),
                    "amount": display_amount(point.amount),
                    "count": point.count,
                },
            )
            for point, (px, py) in zip(line.points, positions, strict=True)
        ),
    )
    return format_html(
        '<g class="series" data-kind="{}"><polyline points="{}" fill="none" stroke="{}" stroke-width="2"/>{}</g>',
        line.kind,
        path,
        line.color,
        dots,
    )
