"""The reports in a real browser: Debian's headless Chromium driven by Selenium.

`make test` installs the `chromium` and `chromium-driver` packages; without them these tests
fail with a message that says so (they never skip).
"""

from __future__ import annotations

import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from handoff_cv.batch import run_batch
from handoff_cv.cli import app
from tests.test_batch import make_cases

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_videos" / "blind_right_to_left"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A report from the sample video and a batch summary, served on 127.0.0.1."""
    root = tmp_path_factory.mktemp("site")
    result = CliRunner().invoke(
        app, ["analyze", f"{SAMPLE}.mp4", "-c", f"{SAMPLE}.toml", "-o", str(root / "report")]
    )
    assert result.exit_code == 0, result.output
    cases = make_cases(root / "cases", 3)
    run_batch([str(cases)], root / "batch", from_landmarks=True, workers=1)
    handler = partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).is_file()]
    if missing:
        pytest.fail(
            f"missing {', '.join(missing)}: install Debian's chromium and chromium-driver "
            "(make test does: apt-get install chromium chromium-driver)",
            pytrace=False,
        )
    import os

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # never let Selenium Manager reach for the network
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tmp_path_factory.mktemp("chromium-profile")
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--mute-audio",
        "--autoplay-policy=no-user-gesture-required",
        "--window-size=1280,2000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_script_timeout(20)
    yield driver
    driver.quit()


def _console_errors(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def test_report_opens_without_errors_and_its_video_plays(site, browser, tmp_path):
    browser.get(f"{site}/report/report.html")
    assert "blind_right_to_left" in browser.title or browser.find_element("tag name", "h1")
    played = browser.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const video = document.querySelector("video");
        if (!video) { done({error: "no video element"}); return; }
        video.muted = true;
        video.play().then(() => setTimeout(() => done({
            time: video.currentTime, width: video.videoWidth, error: null}), 1500))
          .catch(e => done({error: String(e)}));
        """
    )
    assert played["error"] is None, played
    assert played["time"] > 0.3 and played["width"] == 960, played
    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.src.slice(0, 40), i.complete,"
        " i.naturalWidth]);"
    )
    assert len(images) >= 3, "charts and key frames"
    assert all(ok and width > 0 for _, ok, width in images), images
    assert _console_errors(browser) == []
    shot = tmp_path / "report.png"
    assert browser.save_screenshot(str(shot))
    _assert_not_blank(shot)


def test_batch_summary_sorts_and_filters_in_the_browser(site, browser, tmp_path):
    from selenium.webdriver.support.ui import Select

    browser.get(f"{site}/batch/summary.html")
    rows = browser.find_elements("css selector", "#exchanges tbody tr")
    assert len(rows) == 3
    headers = browser.find_elements("css selector", "#exchanges th")
    labels = [h.text for h in headers]
    column = next(i for i, h in enumerate(labels) if h.lower() == "input")
    headers[column].click()
    headers[column].click()  # second click sorts descending
    cells = [
        r.find_elements("tag name", "td")[column].text
        for r in browser.find_elements("css selector", "#exchanges tbody tr")
    ]
    assert cells == sorted(cells, reverse=True)
    select = browser.find_elements("css selector", ".filters select")[0]
    choice = Select(select).options[1].text
    Select(select).select_by_visible_text(choice)
    column = int(select.get_attribute("data-column"))
    visible = [
        r for r in browser.find_elements("css selector", "#exchanges tbody tr") if r.is_displayed()
    ]
    assert visible and all(
        r.find_elements("tag name", "td")[column].text == choice for r in visible
    )
    assert _console_errors(browser) == []
    shot = tmp_path / "summary.png"
    assert browser.save_screenshot(str(shot))
    _assert_not_blank(shot)


def _assert_not_blank(png: Path) -> None:
    import cv2

    image = cv2.imread(str(png))
    assert image is not None and image.shape[0] > 100
    assert float(np.std(image)) > 10, "the screenshot shows a rendered page"
