from __future__ import annotations

from kesah.metrics import Family, render


def test_families_render_as_prometheus_text() -> None:
    text = render([
        Family("kesah_check_ok", "gauge", "1 when fine").add(1, service="intake", check="integrity")
        .add(0, service="publicview", check='la"g'),
        Family("kesah_rounds_total", "counter", "rounds").add(3.0),
        Family("kesah_round_seconds", "gauge", "seconds").add(0.25),
    ])
    assert text.splitlines() == [
        "# HELP kesah_check_ok 1 when fine",
        "# TYPE kesah_check_ok gauge",
        'kesah_check_ok{check="integrity",service="intake"} 1',
        'kesah_check_ok{check="la\\"g",service="publicview"} 0',
        "# HELP kesah_rounds_total rounds",
        "# TYPE kesah_rounds_total counter",
        "kesah_rounds_total 3",
        "# HELP kesah_round_seconds seconds",
        "# TYPE kesah_round_seconds gauge",
        "kesah_round_seconds 0.25",
    ]
