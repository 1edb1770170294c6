"""The HTML report in a real browser: headless Chromium (Debian's `chromium`) driven by Playwright
with the system browser as its executable. No console errors, a row per shot, a click on a shot
seeks the `<video>` to its start, and the timeline of a two-hour, 2 000-shot film renders and
zooms. Screenshots go to each test's temporary folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from filmline.benchmarks.report_film import synthetic_document
from filmline.benchmarks.synthetic import Dissolve, Shot, write_film
from filmline.engine.cli import main as engine_run
from filmline.engine.writers import ViewOptions, write_views
from filmline.engine.writers.cli import main as engine_report

from tests.browser import browser, needs_chromium, page  # noqa: F401  (fixtures)

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`engine-run` on a short H.264 MP4 the test writes, then `engine-report` for the HTML."""
    folder = tmp_path_factory.mktemp("report")
    film = write_film(folder / "clip.mp4", [Shot(30), Shot(25), Shot(35, Dissolve(10)), Shot(30)], seed=7)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    out = folder / "out"
    assert engine_run([film.path, "--out", str(out), "--backend", "none", "--no-progress",
                       "--no-triggers", "--no-intro"]) == 0
    assert engine_report([str(out / "clip.json"), "--format", "html,sheet"]) == 0
    return out


def test_report_rows_and_click_to_seek(page, run_folder: Path, tmp_path: Path) -> None:
    document = json.loads((run_folder / "clip.json").read_text())
    page.goto((run_folder / "clip.html").as_uri())
    page.wait_for_load_state("load")
    assert page.locator("tr.shot[data-shot]").count() == len(document["shots"])
    page.wait_for_function("document.getElementById('player').readyState >= 1", timeout=10_000)
    assert page.evaluate("document.getElementById('player').error") is None
    for shot in document["shots"][2:0:-1]:  # later shots first: each click must move the video
        page.locator(f'tr.shot[data-shot="{shot["index"]}"]').click()
        page.wait_for_function(
            "([t]) => { const v = document.getElementById('player');"
            " return !v.seeking && v.currentTime >= t - 0.05 && v.currentTime < t + 0.5; }",
            arg=[shot["start_time"]], timeout=10_000)
    assert page.locator("tr.shot.current").get_attribute("data-shot") == str(document["shots"][1]["index"])
    images = page.evaluate("[...document.querySelectorAll('tr.shot img')].map(i => i.getAttribute('src'))")
    assert images and all((run_folder / src).is_file() for src in images)
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert not page.problems, page.problems


def test_two_hour_timeline_with_2000_shots_renders_and_zooms(page, tmp_path: Path) -> None:
    document = synthetic_document(shots=2000, seconds=7200, fps=25, seed=1, thumbnails=False)
    (written,) = write_views(document, ("html",), ViewOptions(tmp_path, "film", tmp_path))
    assert written.stat().st_size < 5_000_000
    page.goto(written.as_uri())
    page.wait_for_load_state("load")
    assert page.locator("tr.shot[data-shot]").count() == 2000
    assert page.locator("#strip-svg .blocks rect").count() == 2000
    box = page.locator("#strip-svg").bounding_box()
    assert box["width"] > 1000 and box["height"] > 100
    first_block = page.locator('#strip-svg rect[data-s="0"]').bounding_box()
    assert 0 < first_block["width"] < box["width"] / 100  # a block drawn to its share of the film
    scroller = "document.getElementById('strip-scroll')"
    assert page.evaluate(f"{scroller}.scrollWidth <= {scroller}.clientWidth")
    fit_ticks = page.locator("#ticks span").count()
    assert 6 <= fit_ticks <= 13
    for _ in range(3):
        page.locator('button[data-zoom="2"]').click()
    assert page.evaluate(f"{scroller}.scrollWidth") >= 7 * page.evaluate(f"{scroller}.clientWidth")
    ticks = page.locator("#ticks span")
    assert ticks.count() >= 4 * fit_ticks and ticks.first.text_content() == "00:00"  # time marks follow the zoom
    page.evaluate(f"{scroller}.scrollLeft = {scroller}.scrollWidth / 2")
    assert page.evaluate(f"{scroller}.scrollLeft") > 0
    page.locator('#strip-svg rect[data-s="1000"]').click()  # a block brings its row into view
    assert page.locator('tr.shot[data-shot="1000"]').get_attribute("class") == "shot current"
    assert page.locator('tr.shot[data-shot="1000"]').is_visible()
    page.locator('button[data-zoom="0"]').click()
    page.screenshot(path=str(tmp_path / "timeline.png"))
    assert not page.problems, page.problems


def test_index_lists_each_video(page, run_folder: Path, tmp_path: Path) -> None:
    page.goto((run_folder / "index.html").as_uri())
    rows = page.locator("tr.video")
    assert rows.count() == len(list(run_folder.glob("*.json")))
    assert rows.first.get_attribute("data-stem") == "clip"
    page.locator("tr.video a", has_text="clip.mp4").click()
    page.wait_for_load_state("load")
    assert page.url.endswith("/clip.html")
    assert not page.problems, page.problems
