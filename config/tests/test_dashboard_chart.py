"""The 14-day chart as SVG: round axis labels, one line per kind with a linked point per day, and
nothing from the data reaches the markup unescaped."""

from datetime import date, timedelta
from decimal import Decimal
from xml.etree import ElementTree

from config.dashboard.chart import Point, Series, chart_svg, nice_ceiling

SVG = "{http://www.w3.org/2000/svg}"
DAYS = [date(2026, 12, 1) + timedelta(days=n) for n in range(3)]
WHEN = list(enumerate(DAYS))


def test_the_axis_tops_at_one_two_or_five_times_a_power_of_ten():
    tops = [nice_ceiling(Decimal(value)) for value in ("0", "0.30", "1", "1.01", "3.50", "420", "999.99", "1234.50")]
    assert tops == [Decimal(value) for value in ("1", "0.5", "1", "2", "5", "500", "1000", "2000")]


def test_each_kind_is_a_line_whose_points_link_to_their_day_and_say_their_amount():
    # Given two kinds over three days, one of them with a label that would be markup
    series = [
        Series(
            "recharge",
            "Recharges",
            "#2b7bb9",
            [Point(day, Decimal(n * 100), n, f"/r/{day}") for n, day in enumerate(DAYS)],
        ),
        Series("payment", "<b>Pay</b>", "#3a9d5d", [Point(day, Decimal("50.00"), 1, f"/p/{day}") for day in DAYS]),
    ]

    # When the chart is drawn
    svg = ElementTree.fromstring(chart_svg(days=DAYS, series=series))  # noqa: S314 - our own markup

    # Then it is well-formed SVG with a line per kind and a linked, titled point per day
    lines = svg.findall(f"{SVG}g")
    assert [line.get("data-kind") for line in lines] == ["recharge", "payment"]
    links = lines[0].findall(f"{SVG}a")
    assert [link.get("href") for link in links] == [f"/r/{day}" for day in DAYS]
    assert [title.text for title in links[2].iter(f"{SVG}title")] == ["Recharges 2026-12-03: ¥200.00 in 2"]
    # The highest amount sits on the top gridline (¥200.00) and zero on the bottom one
    heights = [float(circle.get("cy", "")) for link in links for circle in link.iter(f"{SVG}circle")]
    texts = svg.findall(f"{SVG}text")
    labels = {text.text: float(text.get("y", "")) - 4 for text in texts if (text.text or "").startswith("¥")}
    assert (heights[0], heights[2]) == (labels["¥0.00"], labels["¥200.00"])
    # The label that looked like markup is text
    assert "<b>" not in chart_svg(days=DAYS, series=series)
    assert [text.text for text in svg.findall(f"{SVG}text") if "Pay" in (text.text or "")] == ["<b>Pay</b>"]
