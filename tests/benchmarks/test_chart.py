"""The ratio chart: well-formed SVG, a reference line at 1.0x, long bars cut and labelled."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from benchmarks.chart import PLOT_LEFT, PLOT_RIGHT, Row, Section, ratio_chart

NS = "{http://www.w3.org/2000/svg}"
SECTIONS = [
    Section(
        "tiny",
        (
            Row("a & b <middleware>", 1.5, 0.9),
            Row("slow one", 12.33, 0.21),
            Row("ours", 1.2, None, ours=True),
        ),
    )
]


def _svg() -> ET.Element:
    return ET.fromstring(ratio_chart(SECTIONS, title="Ratios", cap=2.0))


def _texts(svg: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in svg.iter(f"{NS}text")]


def test_chart_is_well_formed_svg_800_wide() -> None:
    """The chart parses as SVG, 800 px wide, labels escaped."""
    svg = _svg()
    assert svg.get("width") == "800"
    assert "a & b <middleware>" in _texts(svg)


def test_chart_has_a_reference_line_at_one() -> None:
    """A dashed line marks 1.0x, where a variant costs what its baseline does."""
    scale = (PLOT_RIGHT - PLOT_LEFT) / 2.0
    (line,) = [x for x in _svg().iter(f"{NS}line") if x.get("stroke-dasharray")]
    assert float(line.get("x1", "")) == PLOT_LEFT + scale
    assert "1.0x = baseline" in _texts(_svg())


def test_bar_beyond_the_axis_is_cut_and_labelled() -> None:
    """12.33x on a 2x axis: the bar stops at the axis end, its label says 12.33x."""
    svg = _svg()
    widths = [
        float(r.get("width", "0")) for r in svg.iter(f"{NS}rect") if r.get("x") == str(PLOT_LEFT)
    ]
    assert max(widths) == PLOT_RIGHT - PLOT_LEFT
    assert "12.33x" in _texts(svg)
    slashes = [x for x in svg.iter(f"{NS}line") if x.get("stroke") == "#fff"]
    assert len(slashes) == 2


def test_unmeasured_ratio_says_so() -> None:
    """A ratio a snapshot lacks is written as not measured, not drawn as zero."""
    assert "not measured" in _texts(_svg())


def test_chart_text_is_deterministic() -> None:
    """The same numbers give the same bytes, so a check can compare them."""
    assert ratio_chart(SECTIONS, title="Ratios") == ratio_chart(SECTIONS, title="Ratios")
