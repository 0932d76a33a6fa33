"""The merchant's level over time, drawn on the server as SVG: no script, no request more.

Scores (0 to 1000) over compute times, the class at each point named in the point's title,
so that a screen reader and a browser without SVG support still have the figures (the page
lists them in a table beside it too). Presentation attributes only: the pages'
Content-Security-Policy allows no inline style.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from gateway.times import in_china
from service.domain.rfc3339 import parse_rfc3339

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 16, 36
MAX_SCORE = 1000


@dataclass(frozen=True)
class LevelPoint:
    when: dt.datetime
    score: int
    level_class: str


def points_of(levels: Sequence[Mapping[str, Any]]) -> list[LevelPoint]:
    """The levels (IntegrityLevel in the JSON mapping, any order) as points, oldest first;
    levels without enough data have no score to draw."""
    points = []
    for level in levels:
        if not level.get("sufficientData"):
            continue
        when = parse_rfc3339(level.get("computeTime"))
        if when is None:
            continue
        points.append(
            LevelPoint(when, int(level.get("score", 0)), str(level.get("levelClass", "")))
        )
    return sorted(points, key=lambda p: p.when)


def _day(when: dt.datetime) -> str:
    return in_china(when, "%Y-%m-%d")


def level_chart(points: Sequence[LevelPoint]) -> str:
    """The SVG element, or "" when there is nothing to draw."""
    if not points:
        return ""
    first, last = points[0].when, points[-1].when
    span = (last - first).total_seconds() or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(point: LevelPoint) -> float:
        if len(points) == 1:
            return LEFT + plot_w / 2
        return LEFT + (point.when - first).total_seconds() / span * plot_w

    def y(score: int) -> float:
        return TOP + (1 - min(max(score, 0), MAX_SCORE) / MAX_SCORE) * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        'role="img" aria-labelledby="chart-title chart-desc" class="chart">',
        '<title id="chart-title">信用等级得分变化</title>',
        f'<desc id="chart-desc">{len(points)} 次评定，从 {_day(first)} 到 {_day(last)}，'
        f"最近一次得分 {points[-1].score}，等级 {escape(points[-1].level_class)}。</desc>",
    ]
    for score in (0, 250, 500, 750, 1000):
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(score):.1f}" y2="{y(score):.1f}" '
            'stroke="#d0d0d0" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{y(score) + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#4a4a4a">{score}</text>'
        )
    line = " ".join(f"{x(p):.1f},{y(p.score):.1f}" for p in points)
    parts.append(f'<polyline points="{line}" fill="none" stroke="#0b4f9c" stroke-width="2"/>')
    for point in points:
        label = f"{_day(point.when)}：{point.score} 分，等级 {point.level_class}"
        parts.append(
            f'<circle cx="{x(point):.1f}" cy="{y(point.score):.1f}" r="4" fill="#0b4f9c">'
            f"<title>{escape(label)}</title></circle>"
        )
    ends = [(points[0], "start"), (points[-1], "end")]
    if _day(first) == _day(last):
        ends = [(points[-1], "middle")]  # one day: one label, not two on top of each other
    for point, anchor in ends:
        parts.append(
            f'<text x="{x(point):.1f}" y="{HEIGHT - 12}" text-anchor="{anchor}" font-size="11" '
            f'fill="#4a4a4a">{_day(point.when)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
