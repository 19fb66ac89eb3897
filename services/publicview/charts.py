"""Bar charts drawn on the server as inline SVG. Pure.

No JavaScript and no inline styles (the CSP forbids both): shapes carry
presentation attributes and classes from the site's stylesheet. Each chart
has a title and description for screen readers; the page also shows the
same numbers as a table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from markupsafe import Markup, escape

WIDTH = 360
LABEL_HEIGHT = 16
BAR_HEIGHT = 14
ROW_GAP = 12
VALUE_SPACE = 64  # least room right of the longest bar for its value
CHAR_WIDTH = 7  # of the 12px value text, roughly: the room grows with the longest value


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str  # the value as the reader should read it


def bar_chart(chart_id: str, title: str, description: str, bars: Sequence[Bar],
              max_value: float | None = None) -> Markup:
    """A horizontal bar chart: each label above its bar, the value after it."""
    top = max([b.value for b in bars] + [max_value or 0, 0])
    row = LABEL_HEIGHT + BAR_HEIGHT + ROW_GAP
    height = max(row * len(bars), row)
    span = WIDTH - max([VALUE_SPACE] + [CHAR_WIDTH * len(b.text) + 10 for b in bars])
    parts = [
        f'<svg class="chart" id="{escape(chart_id)}" role="img" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>',
    ]
    if not bars:
        parts.append(f'<text class="chart-label" x="0" y="{LABEL_HEIGHT}" fill="#1b1f23">Belum ada data.</text>')
    for i, bar in enumerate(bars):
        y = i * row
        length = 0.0 if top <= 0 else span * max(bar.value, 0) / top
        bar_y = y + LABEL_HEIGHT + 2
        parts.append(
            f'<text class="chart-label" x="0" y="{y + LABEL_HEIGHT - 4}" fill="#1b1f23">{escape(bar.label)}</text>'
            f'<rect class="chart-bar" x="0" y="{bar_y}" width="{length:.1f}" height="{BAR_HEIGHT}" '
            f'fill="#0b5c8a"/>'
            f'<text class="chart-value" x="{length + 6:.1f}" y="{bar_y + BAR_HEIGHT - 3}" '
            f'fill="#1b1f23">{escape(bar.text)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
