"""What every page must be, checked in the browser: fits a phone, labelled, keyboard-reachable."""

from __future__ import annotations

from typing import Any

UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(el => el.type !== 'hidden' && el.type !== 'submit')
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
  .map(el => el.name || el.id)"""

TAB_ORDER = """() => [...document.querySelectorAll('a[href], button, input, select, textarea, summary, [tabindex]')]
  .filter(el => el.tabIndex > 0).map(el => el.outerHTML.slice(0, 80))"""


def check_page(page: Any, width: int = 390) -> None:
    """Fits the viewport, every control has a label, no positive tabindex breaks the reading order."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width, page.url
    assert page.evaluate(UNLABELLED) == [], page.url
    assert page.evaluate(TAB_ORDER) == [], page.url
    assert page.locator("h1").count() == 1, page.url
    assert page.evaluate("document.documentElement.lang") == "id"


def tab_through(page: Any, steps: int) -> list[str]:
    """The ids/names of the elements the keyboard reaches, in order."""
    reached = []
    for _ in range(steps):
        page.keyboard.press("Tab")
        reached.append(page.evaluate(
            "() => { const e = document.activeElement; return e.id || e.name || e.textContent.trim().slice(0, 30) }"))
    return reached
