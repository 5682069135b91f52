"""A small server-side SVG line chart (no JavaScript, no CDN) for the admin's pages: an
agent's results and shares, a goal's match rate."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from django.utils.html import escape
from django.utils.safestring import SafeString

PALETTE = ["#417690", "#e07b39", "#3a9d5d", "#b33f62", "#7b5ea7", "#c2a01e", "#2f8f9d", "#8c564b"]


@dataclass(frozen=True)
class Series:
    label: str
    points: Sequence[tuple[date, float | None]]
    # a confidence band: (day, low, high) where defined
    band: Sequence[tuple[date, float, float]] = ()


def line_chart_svg(
    *,
    series: Sequence[Series],
    title: str,
    percent: bool = True,
    width: int = 760,
    height: int = 280,
) -> SafeString:
    """Render the series (one line each, gaps where a value is None) as an SVG element."""
    left, right, top, bottom = 56, 16, 28, 40
    days = sorted({d for s in series for d, _ in s.points})
    values = [v for s in series for _, v in s.points if v is not None]
    values += [high for s in series for _, _, high in s.band]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" style="max-width:{width}px" aria-label="{escape(title)}">',
        f'<text x="{left}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
    ]
    if not days or not values:
        parts.append(
            f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" fill="#666">'
            "No data in this date range yet.</text></svg>"
        )
        return SafeString("".join(parts))
    top_value = (max(values) or 1.0) * 1.1
    if percent:
        top_value = min(top_value, 1.0)  # a rate never exceeds 100%
    plot_w, plot_h = width - left - right, height - top - bottom

    def x_of(day: date) -> float:
        if len(days) == 1:
            return left + plot_w / 2
        return left + plot_w * (days.index(day) / (len(days) - 1))

    def y_of(value: float) -> float:
        return top + plot_h * (1 - value / top_value)

    for i in range(5):
        value = top_value * i / 4
        y = y_of(value)
        label = f"{value * 100:.1f}%" if percent else f"{value:.2f}"
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{label}</text>'
        )
    step = max(1, len(days) // 8)
    for day in days[::step]:
        parts.append(
            f'<text x="{x_of(day):.1f}" y="{height - bottom + 16}" font-size="10" '
            f'text-anchor="middle">{day:%b %d}</text>'
        )
    for n, s in enumerate(series):
        color = PALETTE[n % len(PALETTE)]
        if len(s.band) > 1:  # the 95% band under the line
            band = sorted(s.band)
            upper = [f"{x_of(d):.1f},{y_of(min(h, top_value)):.1f}" for d, _, h in band]
            lower = [f"{x_of(d):.1f},{y_of(lo):.1f}" for d, lo, _ in reversed(band)]
            parts.append(
                f'<polygon class="band" fill="{color}" fill-opacity="0.15" stroke="none" '
                f'points="{" ".join(upper + lower)}"/>'
            )
        elif s.band:  # one day: the interval as an error bar
            day, low, high = s.band[0]
            parts.append(
                f'<line class="band" x1="{x_of(day):.1f}" x2="{x_of(day):.1f}" '
                f'y1="{y_of(min(high, top_value)):.1f}" y2="{y_of(low):.1f}" stroke="{color}" '
                'stroke-opacity="0.4" stroke-width="6"/>'
            )
        segment: list[str] = []
        segments = [segment]
        for day, point in sorted(s.points):
            if point is None:
                segment = []
                segments.append(segment)
                continue
            segment.append(f"{x_of(day):.1f},{y_of(point):.1f}")
        for points in segments:
            if len(points) == 1:
                cx, cy = points[0].split(",")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="3" fill="{color}"/>')
            elif points:
                parts.append(
                    f'<polyline fill="none" stroke="{color}" stroke-width="2" '
                    f'points="{" ".join(points)}"/>'
                )
        legend_x = left + 110 * n
        parts.append(
            f'<rect x="{legend_x}" y="{height - 14}" width="10" height="10" fill="{color}"/>'
            f'<text x="{legend_x + 14}" y="{height - 5}" font-size="11">{escape(s.label)}</text>'
        )
    parts.append("</svg>")
    return SafeString("".join(parts))
