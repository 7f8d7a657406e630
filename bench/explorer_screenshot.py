"""The explorer screenshot in docs/img/explorer.png: a cgan trained on digits, served, shown in chromium.

    python bench/explorer_screenshot.py [--run RUN] [--steps 1500]

Needs the serve extra, playwright and a chromium binary (/usr/bin/chromium or GANFORGE_CHROMIUM).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--run", default=None)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "explorer.png")
    args = p.parse_args()

    import ganforge
    from ganforge.deploy.api import Settings
    from ganforge.deploy.server import create_app
    from playwright.sync_api import sync_playwright
    from tests.deploy.conftest import LiveServer
    from tests.deploy.test_explorer_browser import VIEWPORT, chromium_binary

    run = args.run or ganforge.train({"recipe": "cgan", "data": "digits", "steps": args.steps, "sample_every": 0,
                                      "out": str(Path(tempfile.mkdtemp()) / "cgan")})
    app = create_app({"cgan-digits": ganforge.load(run)}, Settings())
    with LiveServer(app) as live, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_binary(), headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport=VIEWPORT, bypass_csp=True)
        page.goto(live.url + "/")
        page.wait_for_selector("#grid button img")
        page.wait_for_function("document.body.dataset.busy === '0'")
        page.locator("#grid button").nth(3).click()
        page.fill("#pc1", "1.5")
        page.dispatch_event("#pc1", "input")
        page.wait_for_timeout(500)
        page.wait_for_function("document.body.dataset.busy === '0'")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.out))
        browser.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
