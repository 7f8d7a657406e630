"""The explorer page end to end in a real headless Chromium (Debian's `chromium`, driven by Playwright).

Playwright's own browser download needs the internet; CI installs Debian's chromium with apt
(.ci/run) and this test launches it by path. Without a chromium binary the test is skipped (with the
reason), so a developer machine without one still passes.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (pip install 'ganforge[test]')")

from tests.deploy.conftest import LiveServer  # noqa: E402

LAYOUT = Path(__file__).with_name("explorer_layout.json")
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "img" / "explorer.png"
VIEWPORT = {"width": 1280, "height": 800}
BOXES = ("#top", "#controls", "#grid-box", "#centre-box", "#interp-box", "#translate-box", "#grid", "#neighbours",
         "#sliders", "#interp")


def chromium_binary() -> str | None:
    for candidate in (os.environ.get("GANFORGE_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser",
                      shutil.which("chromium"), shutil.which("chromium-browser"), shutil.which("google-chrome")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


@pytest.fixture(scope="module")
def page(generators):
    binary = chromium_binary()
    if binary is None:
        if os.environ.get("GANFORGE_REQUIRE_BROWSER"):
            pytest.fail("GANFORGE_REQUIRE_BROWSER is set but no chromium binary was found (apt-get install chromium)")
        pytest.skip("no chromium binary (apt-get install chromium, or set GANFORGE_CHROMIUM); .ci/run installs it")
    from ganforge.deploy.api import Settings
    from ganforge.deploy.server import create_app

    app = create_app({"digits": generators["cgan"], "negate": generators["translate"]}, Settings())
    with LiveServer(app) as live, playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=binary, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        page = browser.new_page(viewport=VIEWPORT, bypass_csp=True)  # the page's CSP forbids eval, which wait_for_function uses
        external = []
        page.on("request", lambda r: None if r.url.startswith((live.url, "data:", "blob:")) else external.append(r.url))
        page.goto(live.url + "/")
        page.external = external
        yield page
        browser.close()


def settle(page):
    page.wait_for_function("document.body.dataset.busy === '0'", timeout=20000)


def test_explorer_end_to_end(page, tmp_path):
    settle(page)
    page.wait_for_selector("#grid button img", timeout=20000)
    assert page.locator("#grid button").count() == 16
    assert page.locator("#neighbours button").count() == 8
    assert page.locator("#interp img").count() == 8
    assert page.locator("#sliders input[type=range]").count() == 8
    assert page.is_visible("#class-box") and not page.is_visible("#translate-box")

    # a slider along a principal direction changes the centre image
    before = page.get_attribute("#centre-img", "src")
    slider = page.locator("#pc0")
    slider.focus()
    for _ in range(20):  # keyboard-usable: arrow keys move the slider (0.1 per press)
        page.keyboard.press("ArrowRight")
    page.wait_for_function(f"document.getElementById('centre-img').src !== {json.dumps(before)}", timeout=20000)
    settle(page)
    assert page.input_value("#pc0") == "2"

    # click a sample (keyboard: Tab to it, Enter) to make it the centre
    page.locator("#grid button").nth(5).focus()
    page.keyboard.press("Enter")
    settle(page)
    assert "centre" in page.get_attribute("#grid button:nth-child(6)", "class")
    assert page.text_content("#centre-seed") == "sample with seed 5"
    assert page.input_value("#pc0") == "0"

    # a class picks other images
    grid_before = page.get_attribute("#grid button:first-child img", "src")
    page.select_option("#class", "7")
    page.wait_for_function(f"document.querySelector('#grid button img').src !== {json.dumps(grid_before)}",
                           timeout=20000)
    settle(page)

    # the layout, compared as element boxes (not pixels), and a screenshot for the docs
    boxes = {sel: page.locator(sel).bounding_box() for sel in BOXES if page.is_visible(sel)}
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    shot = tmp_path / "explorer.png"
    page.screenshot(path=str(shot), full_page=True)
    if os.environ.get("GANFORGE_UPDATE_SCREENSHOT"):
        shutil.copy(shot, SCREENSHOT)
        LAYOUT.write_text(json.dumps({k: {a: round(v) for a, v in b.items()} for k, b in boxes.items()}, indent=1))
    expected = json.loads(LAYOUT.read_text())
    assert set(boxes) == set(expected)
    for sel, box in boxes.items():
        for axis in ("x", "y", "width", "height"):
            assert abs(box[axis] - expected[sel][axis]) <= 24, (sel, axis, box, expected[sel])

    # image upload to a translation model
    page.select_option("#model", "negate")
    page.wait_for_selector("#translate-box:not([hidden])", timeout=20000)
    assert not page.is_visible("#grid-box")
    from PIL import Image

    path = tmp_path / "digit.png"
    Image.new("L", (8, 8), 0).save(path)
    page.set_input_files("#upload", str(path))
    page.wait_for_function("document.getElementById('translated').src.startsWith('blob:')", timeout=20000)
    settle(page)
    assert page.evaluate("document.getElementById('translated').naturalWidth") > 0
    assert "translated digit.png" in page.text_content("#status")
    assert page.external == []  # no request left the server
