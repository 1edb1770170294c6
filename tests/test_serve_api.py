"""engine-serve's JSON API against the real server on localhost (a child process): jobs on a film
under the library root and on an upload, progress, results and views, cancelling, a restart in the
middle of a job, and the requests it must refuse."""

from __future__ import annotations

import http.client
import re
import subprocess
import sys

import pytest

from filmline.benchmarks.synthetic import Shot, write_film
from tests.serve_server import Server

pytest.importorskip("fastapi", reason='pip install "filmline[serve]"')
pytest.importorskip("uvicorn", reason='pip install "filmline[serve]"')

CHEAP = {"detector": "cheap", "backend": "none", "triggers": False, "intro": False}  # no model builds


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    root = tmp_path_factory.mktemp("library")
    write_film(root / "clip.mp4", [Shot(30), Shot(25), Shot(35)], seed=3)
    (root / "films").mkdir()
    write_film(root / "films" / "long.mp4", [Shot(1500)] * 4, seed=4, preset="ultrafast")  # a few seconds' job
    outside = tmp_path_factory.mktemp("outside")
    write_film(outside / "secret.mp4", [Shot(20)], seed=5)
    (root / "link.mp4").symlink_to(outside / "secret.mp4")
    (root / "notes.txt").write_text("not a video\n")
    (root / "broken.mp4").write_bytes(b"\x00" * 4096)
    return root, outside


@pytest.fixture(scope="module")
def server(library, tmp_path_factory):
    root, _ = library
    started = Server(root, tmp_path_factory.mktemp("state"), "--max-upload-mb", "1",
                     home=tmp_path_factory.mktemp("home")).start()
    yield started
    started.stop()


def test_job_on_a_library_film(server: Server) -> None:
    status, listing = server.call("GET", "/library")
    assert status == 200 and {"clip.mp4", "films/long.mp4"} <= set(listing["videos"])
    status, job = server.call("POST", "/jobs", {"path": "clip.mp4", "settings": {**CHEAP, "fps": 2}})
    assert status == 201 and job["state"] == "queued"
    done = server.wait(job["id"], ("done", "failed"))
    assert done["state"] == "done", done["error"]
    assert done["frames_done"] == done["frames_total"] == 90
    status, document = server.call("GET", f"/jobs/{job['id']}/result")
    assert status == 200 and document["video"]["frame_count"] == 90 and len(document["shots"]) == 3
    status, edl = server.call("GET", f"/jobs/{job['id']}/views/edl")
    assert status == 200 and len(re.findall(rb"^\d{3}  ", edl, re.M)) == 3  # one event per shot
    status, report = server.call("GET", f"/jobs/{job['id']}/report")
    assert status == 200 and b"<html" in report.lower()
    assert any(entry["id"] == job["id"] for entry in server.call("GET", "/jobs")[1])
    status, schema = server.call("GET", "/openapi.json")
    assert status == 200 and "/jobs/{job_id}/result" in schema["paths"]


def test_job_on_an_upload(server: Server, library) -> None:
    root, _ = library
    status, upload = server.call("POST", "/uploads?name=mine.mp4", data=(root / "clip.mp4").read_bytes(),
                                 headers={"Content-Type": "application/octet-stream"})
    assert status == 201, upload
    status, job = server.call("POST", "/jobs", {"upload": upload["upload"], "settings": CHEAP})
    assert status == 201
    assert server.wait(job["id"], ("done", "failed"))["state"] == "done"


def test_a_film_that_does_not_decode_fails_with_one_line(server: Server) -> None:
    _, job = server.call("POST", "/jobs", {"path": "broken.mp4", "settings": CHEAP})
    failed = server.wait(job["id"], ("done", "failed"))
    assert failed["state"] == "failed" and "broken.mp4" in failed["error"] and "\n" not in failed["error"]
    status, error = server.call("GET", f"/jobs/{job['id']}/result")
    assert status == 409 and "failed" in error["error"]


def test_cancel_a_running_and_a_queued_job(server: Server) -> None:
    _, running = server.call("POST", "/jobs", {"path": "films/long.mp4", "settings": CHEAP})
    _, queued = server.call("POST", "/jobs", {"path": "films/long.mp4", "settings": CHEAP})
    server.wait(running["id"], ("running",), frames=True)
    assert server.call("DELETE", f"/jobs/{queued['id']}")[1]["state"] == "cancelled"
    server.call("DELETE", f"/jobs/{running['id']}")
    cancelled = server.wait(running["id"], ("cancelled", "done"))
    assert cancelled["state"] == "cancelled" and cancelled["frames_done"] < cancelled["frames_total"]
    assert server.call("GET", f"/jobs/{running['id']}/result")[0] == 409
    assert server.wait(queued["id"], ("cancelled",))["frames_done"] == 0  # never started


def test_restart_in_the_middle_of_a_job(server: Server) -> None:
    _, finished = server.call("POST", "/jobs", {"path": "clip.mp4", "settings": CHEAP})
    server.wait(finished["id"], ("done",))
    _, job = server.call("POST", "/jobs", {"path": "films/long.mp4", "settings": CHEAP})
    server.wait(job["id"], ("running",), frames=True)
    server.restart()
    interrupted = server.call("GET", f"/jobs/{job['id']}")[1]
    assert interrupted["state"] == "interrupted" and "retry" in interrupted["error"]
    assert server.call("GET", f"/jobs/{finished['id']}/result")[0] == 200  # results survive too
    assert server.call("POST", f"/jobs/{job['id']}/retry")[0] == 200
    done = server.wait(job["id"], ("done", "failed"), timeout=120)
    assert done["state"] == "done" and done["frames_done"] == done["frames_total"] == 6000


@pytest.mark.parametrize(("body", "status"), [
    ({"path": "../outside/secret.mp4"}, 403),
    ({"path": "link.mp4"}, 403),  # a symlink out of the root
    ({"path": "clip.mp4", "settings": {"fps": -1}}, 400),
    ({"path": "clip.mp4", "settings": {"config": "/etc/passwd"}}, 400),  # paths are not settings
    ({"path": "missing.mp4"}, 404),
    ({}, 400),
])
def test_bad_job_requests(server: Server, library, body, status) -> None:
    got, error = server.call("POST", "/jobs", body)
    assert got == status and error["error"]


def test_absolute_path_elsewhere(server: Server, library) -> None:
    _, outside = library
    got, error = server.call("POST", "/jobs", {"path": str(outside / "secret.mp4")})
    assert got == 403 and "outside the library root" in error["error"]


def test_bad_uploads_and_unknown_job(server: Server, library) -> None:
    root, _ = library
    uploads = server.state / "uploads"
    before = sorted(uploads.iterdir()) if uploads.exists() else []
    status, error = server.call("POST", "/uploads?name=notes.mp4", data=(root / "notes.txt").read_bytes())
    assert status == 415 and "does not decode" in error["error"]
    status, error = server.call("POST", "/uploads?name=big.mp4", data=(root / "films" / "long.mp4").read_bytes())
    assert status == 413 and "limit" in error["error"]
    assert (sorted(uploads.iterdir()) if uploads.exists() else []) == before  # nothing half-kept
    for method, path in (("GET", "/jobs/nope"), ("DELETE", "/jobs/nope"), ("GET", "/jobs/nope/result")):
        status, error = server.call(method, path)
        assert status == 404 and "no job nope" in error["error"]


def test_token_required_off_localhost(library, tmp_path) -> None:
    root, _ = library
    refused = subprocess.run([sys.executable, "-m", "filmline.engine.serve.cli", "--root", str(root),
                              "--state", str(tmp_path / "s"), "--host", "0.0.0.0"], capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and refused.stderr.strip().count("\n") == 0 and "--token" in refused.stderr
    guarded = Server(root, tmp_path / "state", "--token", "s3cret", home=tmp_path / "home").start()
    try:
        status, error = guarded.call("GET", "/jobs")
        assert status == 401 and "token" in error["error"]
        assert guarded.call("GET", "/jobs", headers={"Authorization": "Bearer wrong"})[0] == 401
        assert guarded.call("GET", "/jobs", headers={"Authorization": "Bearer s3cret"}) == (200, [])
        connection = http.client.HTTPConnection("127.0.0.1", guarded.port, timeout=30)
        connection.request("GET", "/?token=s3cret")  # a browser's way in: the token once, then a cookie
        opened = connection.getresponse()
        cookie = opened.getheader("set-cookie").split(";")[0]
        assert opened.status == 303 and cookie == "filmline_token=s3cret"
        assert guarded.call("GET", "/jobs", headers={"Cookie": cookie}) == (200, [])
        assert guarded.call("GET", "/?token=wrong")[0] == 401
    finally:
        guarded.stop()


def test_without_the_serve_extra_one_line(monkeypatch, capsys, library, tmp_path) -> None:
    from filmline.engine.serve.cli import main as engine_serve

    monkeypatch.setitem(sys.modules, "fastapi", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "filmline.engine.serve.app", raising=False)
    assert engine_serve(["--root", str(library[0]), "--state", str(tmp_path)]) == 3
    assert capsys.readouterr().err.strip() == (
        'engine-serve: engine-serve needs FastAPI and uvicorn (fastapi is missing): pip install "filmline[serve]"')


def test_models_stay_open_across_jobs_that_differ_in_analysis_settings(library, tmp_path) -> None:
    """Jobs that differ in fps, threshold or minimum shot length reuse the open models (and still
    get their own settings); a job that asks for another stage opens the models again."""
    root, _ = library
    server = Server(root, tmp_path / "state", home=tmp_path / "home").start()
    jobs = [{**CHEAP, "fps": 2}, {**CHEAP, "fps": 1, "threshold": 0.5, "min_shot": 0.5}, {**CHEAP, "triggers": True}]
    try:
        ids = [server.call("POST", "/jobs", {"path": "clip.mp4", "settings": settings})[1]["id"] for settings in jobs]
        for job_id in ids:
            assert server.wait(job_id, ("done", "failed"))["state"] == "done"
        results = [server.call("GET", f"/jobs/{job_id}/result")[1] for job_id in ids]
    finally:
        process = server.process
        server.stop()
    opened = re.findall(r"engine-serve: job (\w+) opens its models", process.stderr.read())
    assert opened == [ids[0], ids[2]]
    assert [r["settings"]["fps"] for r in results[:2]] == [2, 1]
    assert results[1]["settings"]["threshold"] == 0.5 and results[1]["settings"]["min_shot_seconds"] == 0.5
    assert results[0]["triggers"] is None and "triggers" in {s["stage"] for s in results[2]["models"]["skipped"]}
