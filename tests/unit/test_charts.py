from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from services.publicview.charts import WIDTH, VALUE_SPACE, Bar, bar_chart

SVG = "{http://www.w3.org/2000/svg}"


def test_bars_are_proportional_and_labelled_for_screen_readers() -> None:
    svg = str(bar_chart("c1", "Jumlah aduan", "Per instansi", [Bar("A", 10, "10"), Bar("B", 5, "5")]))
    root = ET.fromstring(svg)
    assert root.get("role") == "img" and root.get("aria-labelledby") == "c1-title c1-desc"
    assert root.find(f"{SVG}title").text == "Jumlah aduan"
    widths = [float(r.get("width")) for r in root.iter(f"{SVG}rect")]
    assert widths == [WIDTH - VALUE_SPACE, (WIDTH - VALUE_SPACE) / 2]
    assert [t.text for t in root.iter(f"{SVG}text")] == ["A", "10", "B", "5"]


def test_labels_are_text_never_markup() -> None:
    evil = '<script>alert(1)</script><a onclick="x">'
    svg = str(bar_chart("c2", evil, evil, [Bar(evil, 1, evil)]))
    assert "<script>" not in svg and "onclick=" not in svg.replace("onclick=&#34;", "")
    root = ET.fromstring(svg)  # still well-formed
    assert root.find(f"{SVG}title").text == evil


def test_no_data_and_zero_values_draw_nothing_wrong() -> None:
    empty = str(bar_chart("c3", "t", "d", []))
    assert "Belum ada data." in empty
    zeros = str(bar_chart("c4", "t", "d", [Bar("A", 0, "0")]))
    assert re.search(r'<rect[^>]*width="0.0"', zeros)
