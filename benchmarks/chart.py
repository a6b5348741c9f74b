"""The Performance page's chart: each variant's ratio to its baseline, as hand-written SVG.

A horizontal bar chart, two bars per variant: in-process time per request and over-the-wire
requests/s, each relative to the same app without the variant (bare Starlette for most), with
a reference line at 1.0x. Bars longer than the axis are cut, marked, and labelled with their
value. The text is deterministic (fixed decimals, no timestamps), so ``benchmarks.report
--check`` can compare it byte for byte like the page's tables.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["Row", "Section", "ratio_chart"]

WIDTH = 800
LABEL_RIGHT = 300
"""Right edge of the variant labels."""
PLOT_LEFT, PLOT_RIGHT = 312, 736
"""The axis from 0x to the chart's maximum; values are written just past a bar's end."""
BAR, GAP, ROW, SECTION = 11, 2, 36, 30
INPROCESS_COLOUR, WIRE_COLOUR = "#3b6ea5", "#e07b24"
WRAP = 38
VALUE = {
    "font_size": "11",
    "fill": "#222",
    "stroke": "#fff",
    "stroke_width": "3",
    "paint_order": "stroke",
}
"""Values: small, haloed in white so that a line behind them does not cross the digits."""
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"


@dataclass(frozen=True)
class Row:
    """One variant: its label and its two ratios (``None``: not measured)."""

    label: str
    inprocess: float | None
    wire: float | None
    ours: bool = False


@dataclass(frozen=True)
class Section:
    """Rows compared against the same baseline, under a heading."""

    title: str
    rows: tuple[Row, ...]


def _axis_max(sections: Sequence[Section], cap: float) -> float:
    values = [v for s in sections for r in s.rows for v in (r.inprocess, r.wire) if v is not None]
    top = max([1.0, *values])
    return min(cap, math.ceil(top * 2) / 2)


def _n(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _text(x: float, y: float, text: str, **attrs: str) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in attrs.items())
    return f'<text x="{_n(x)}" y="{_n(y)}"{extra}>{escape(text)}</text>'


def _label(x: float, centre: float, text: str, weight: str) -> str:
    """A right-aligned label, on two lines when it is longer than :data:`WRAP` characters."""
    words, lines = text.split(), [text]
    if len(text) > WRAP and len(words) > 1:
        cut = min(range(1, len(words)), key=lambda i: abs(len(" ".join(words[:i])) - len(text) / 2))
        lines = [" ".join(words[:cut]), " ".join(words[cut:])]
    first = centre + 4 - (len(lines) - 1) * 7
    spans = "".join(
        f'<tspan x="{_n(x)}" y="{_n(first + i * 14)}">{escape(line)}</tspan>'
        for i, line in enumerate(lines)
    )
    return f'<text text-anchor="end" font-weight="{weight}">{spans}</text>'


def _bar(y: float, value: float | None, colour: str, scale: float, top: float) -> list[str]:
    """One bar at ``y``, its value beside it, cut and marked when beyond the axis."""
    if value is None:
        return [_text(PLOT_LEFT + 4, y + BAR - 2, "not measured", fill="#777", font_size="11")]
    cut = value > top
    end = PLOT_LEFT + min(value, top) * scale
    out = [
        f'<rect x="{PLOT_LEFT}" y="{_n(y)}" width="{_n(end - PLOT_LEFT)}" height="{BAR}" '
        f'fill="{colour}"/>'
    ]
    if cut:  # two white slashes: the bar goes on
        for dx in (-14, -9):
            out.append(
                f'<line x1="{_n(end + dx)}" y1="{_n(y + BAR + 1)}" x2="{_n(end + dx + 4)}" '
                f'y2="{_n(y - 1)}" stroke="#fff" stroke-width="2"/>'
            )
    out.append(_text(end + 4, y + BAR - 1.5, f"{value:.2f}x", **VALUE))
    return out


def ratio_chart(
    sections: Sequence[Section], *, title: str, note: str = "", cap: float = 2.5
) -> str:
    """The SVG document (text) of the chart; the axis runs from 0 to at most ``cap``."""
    top = _axis_max(sections, cap)
    scale = (PLOT_RIGHT - PLOT_LEFT) / top
    y = 72.0
    body: list[str] = []
    for section in sections:
        body.append(_text(12, y + 18, section.title, font_weight="600", font_size="13"))
        y += SECTION
        for row in section.rows:
            weight = "700" if row.ours else "400"
            centre = y + BAR + GAP / 2
            body.append(_label(LABEL_RIGHT, centre, row.label, weight))
            body += _bar(y, row.inprocess, INPROCESS_COLOUR, scale, top)
            body += _bar(y + BAR + GAP, row.wire, WIRE_COLOUR, scale, top)
            y += ROW
    plot_top, plot_bottom = 64.0, y
    grid: list[str] = []
    tick = 0.0
    while tick <= top + 1e-9:
        x = PLOT_LEFT + tick * scale
        if tick != 1.0:
            grid.append(
                f'<line x1="{_n(x)}" y1="{_n(plot_top)}" x2="{_n(x)}" y2="{_n(plot_bottom)}" '
                'stroke="#ddd" stroke-width="1"/>'
            )
        grid.append(_text(x, plot_bottom + 16, f"{tick:.1f}x", text_anchor="middle", fill="#555"))
        tick += 0.5
    one = PLOT_LEFT + scale
    reference = [
        f'<line x1="{_n(one)}" y1="{_n(plot_top)}" x2="{_n(one)}" y2="{_n(plot_bottom)}" '
        'stroke="#111" stroke-width="1.5" stroke-dasharray="5 3"/>',
        _text(one + 4, plot_top + 2, "1.0x = baseline", font_size="11", fill="#111"),
    ]
    legend = [
        f'<rect x="{PLOT_LEFT - 300}" y="36" width="12" height="12" fill="{INPROCESS_COLOUR}"/>',
        _text(PLOT_LEFT - 283, 46, "in-process: time per request (lower is better)"),
        f'<rect x="{PLOT_LEFT + 40}" y="36" width="12" height="12" fill="{WIRE_COLOUR}"/>',
        _text(PLOT_LEFT + 57, 46, "over the wire: requests/s (higher is better)"),
    ]
    height = plot_bottom + (44 if note else 28)
    footer = [_text(12, plot_bottom + 36, note, font_size="11", fill="#555")] if note else []
    lines = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{_n(height)}" '
        f'viewBox="0 0 {WIDTH} {_n(height)}" role="img" aria-label="{escape(title)}" '
        f'font-family="{FONT}" font-size="13">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{WIDTH}" height="{_n(height)}" fill="#fff"/>',
        _text(12, 22, title, font_weight="700", font_size="15"),
        *legend,
        *grid,
        *reference,
        *body,
        *footer,
        "</svg>",
    ]
    return "\n".join(lines) + "\n"
