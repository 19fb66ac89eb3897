"""Real headless Chromium (Debian's), driven by Playwright; screenshots kept per run.

Screenshots go to test-artifacts/screenshots/ (or KESAH_TEST_ARTIFACTS).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable, Iterator

import pytest

CHROMIUM = os.environ.get("KESAH_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("KESAH_TEST_ARTIFACTS", "test-artifacts")) / "screenshots"
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: run 'make test' (installs it) or set KESAH_TEST_CHROMIUM")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def phone(chromium) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """A page in a phone-sized viewport."""
    context = chromium.new_context(viewport=PHONE, locale="id-ID", device_scale_factor=2, is_mobile=True)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def desktop(chromium) -> Iterator[object]:  # type: ignore[no-untyped-def]
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="id-ID")
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[[object, str], Path]:
    """screenshot(page, "step-name") saves a full-page PNG named after the test."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    test = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)

    def take(page, name: str) -> Path:  # type: ignore[no-untyped-def]
        path = ARTIFACTS / f"{test}--{name}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 0
        return path

    return take
