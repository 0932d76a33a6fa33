"""The level chart: one point per scored level, oldest to newest, text escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from gateway.level_chart import level_chart, points_of

LEVELS = [
    {
        "sufficientData": True,
        "score": 700,
        "levelClass": "A",
        "computeTime": "2026-11-20T00:00:00Z",
    },
    {
        "sufficientData": False,
        "levelClass": "INSUFFICIENT_DATA",
        "computeTime": "2026-11-01T00:00:00Z",
    },
    {
        "sufficientData": True,
        "score": 555,
        "levelClass": "B<&>",
        "computeTime": "2026-11-10T00:00:00Z",
    },
]
SVG = "{http://www.w3.org/2000/svg}"


def test_points_are_scored_levels_oldest_first() -> None:
    points = points_of(LEVELS)
    assert [p.score for p in points] == [555, 700]


def test_the_chart_is_well_formed_svg_with_a_point_each() -> None:
    chart = level_chart(points_of(LEVELS))
    root = ET.fromstring(chart)  # escaped text keeps it well-formed
    circles = root.findall(f"{SVG}circle")
    assert len(circles) == 2
    # Higher scores are drawn higher up (smaller y).
    assert float(circles[1].get("cy", 0)) < float(circles[0].get("cy", 0))
    titles = [c.find(f"{SVG}title").text for c in circles]  # type: ignore[union-attr]
    assert titles[0] is not None and "B<&>" in titles[0]
    assert "style=" not in chart  # the pages' CSP allows no inline style


def test_nothing_to_draw_is_no_chart() -> None:
    assert level_chart(points_of([LEVELS[1]])) == ""
