"""engine-serve's page in headless Chromium against the real server: start a job from the form,
watch its progress to the end, open its HTML report, download its JSON."""

from __future__ import annotations

import json

import pytest

from filmline.benchmarks.synthetic import Shot, write_film
from tests.browser import browser, needs_chromium, page  # noqa: F401  (fixtures)
from tests.serve_server import Server

pytest.importorskip("fastapi", reason='pip install "filmline[serve]"')
pytestmark = needs_chromium


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("library")
    write_film(root / "clip.mp4", [Shot(30), Shot(25), Shot(35), Shot(30)], seed=7)
    started = Server(root, tmp_path_factory.mktemp("state"), home=tmp_path_factory.mktemp("home")).start()
    yield started
    started.stop()


def test_start_watch_open_report_download(page, server: Server, tmp_path) -> None:
    page.goto(server.url + "/")
    page.wait_for_function("document.getElementById('video').options.length > 0")
    page.select_option("#video", "clip.mp4")
    page.select_option("#detector", "cheap")
    page.select_option("#backend", "none")
    page.uncheck("#triggers")
    page.uncheck("#intro")
    page.fill("#fps", "2")
    page.click("#start")
    row = page.locator("tr[data-job]").first
    row.wait_for()
    page.wait_for_selector('tr[data-state="done"]', timeout=60_000)
    job_id = row.get_attribute("data-job")
    assert row.locator("progress").evaluate("bar => bar.value === bar.max && bar.max === 120")
    job = server.call("GET", f"/jobs/{job_id}")[1]
    document = server.call("GET", f"/jobs/{job_id}/result")[1]
    assert job["settings"] == {"triggers": False, "intro": False, "fps": 2, "detector": "cheap", "backend": "none"}

    with page.context.expect_page() as opened:
        row.get_by_role("link", name="report").click()
    report = opened.value
    report.wait_for_load_state("load")
    assert report.locator("tr.shot[data-shot]").count() == len(document["shots"]) >= 4
    for image in report.locator("tr.shot img").all():  # lazy images load once they are scrolled into view
        image.scroll_into_view_if_needed()
    report.wait_for_function(
        "[...document.querySelectorAll('tr.shot img')].every(i => i.complete && i.naturalWidth > 0)", timeout=10_000)

    with page.expect_download() as download:
        row.get_by_role("link", name="JSON").click()
    saved = tmp_path / "clip.json"
    download.value.save_as(saved)
    assert json.loads(saved.read_text()) == document
    assert page.problems == []


def test_upload_from_the_page(page, server: Server, tmp_path) -> None:
    """The file input sends the video to POST /uploads and starts a job on it; a file that is not a
    video gets the server's one line on the page and no job."""
    film = tmp_path / "mine.mp4"
    write_film(film, [Shot(20), Shot(24)], seed=11)
    (tmp_path / "notes.mp4").write_text("not a video\n")
    page.goto(server.url + "/")
    page.wait_for_function("document.getElementById('video').options.length > 0")
    page.select_option("#detector", "cheap")
    page.select_option("#backend", "none")
    page.uncheck("#triggers")
    page.uncheck("#intro")
    jobs_before = len(server.call("GET", "/jobs")[1])

    page.set_input_files("#file", str(tmp_path / "notes.mp4"))
    page.click("#start")
    page.wait_for_function("document.getElementById('message').textContent.length > 0")
    assert "decode" in page.text_content("#message")
    assert len(server.call("GET", "/jobs")[1]) == jobs_before
    assert page.problems == ["console: Failed to load resource: the server responded with a status of 415 (Unsupported Media Type)"]
    page.problems.clear()

    page.set_input_files("#file", str(film))
    page.click("#start")
    page.wait_for_function(f"document.querySelectorAll('tr[data-job]').length > {jobs_before}")
    job = server.call("GET", "/jobs")[1][0]  # newest first
    assert job["video"].endswith(".mp4") and job["video"] != "clip.mp4"
    done = server.wait(job["id"], ("done", "failed"))
    assert done["state"] == "done", done["error"]
    assert server.call("GET", f"/jobs/{job['id']}/result")[1]["video"]["frame_count"] == 44
    assert page.input_value("#file") == ""
    assert page.problems == []
