"""The HTTP API and the page (FastAPI: typed request bodies checked for us, and the OpenAPI schema
at /openapi.json and /docs come from the same code)."""

from __future__ import annotations

import hmac
import uuid
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from filmline.engine.errors import EngineError
from filmline.engine.serve.jobs import JobStore, Worker, run_args
from filmline.engine.serve.paths import Refused, confined, library, probe_video
from filmline.engine.writers import FORMATS

PAGE = Path(__file__).with_name("page.html")
# An oversize upload is read on (and dropped) up to this much past the limit, so a client that
# sends its whole body before reading the answer gets the 413 rather than a reset connection.
DRAIN_BYTES = 64 * 1024 * 1024
COOKIE = "filmline_token"


class JobRequest(BaseModel):
    """A library path (relative to the root) or an upload id from POST /uploads, and engine-run's
    settings by name (fps, detector, threshold, triggers, intro, backend, vlm, ...)."""

    path: str | None = None
    upload: str | None = None
    settings: dict[str, Any] = {}


def create_app(root: Path, state: Path, token: str | None, max_upload_bytes: int) -> FastAPI:
    root = root.resolve()
    store = JobStore(state)
    worker = Worker(store)
    uploads = state / "uploads"
    app = FastAPI(title="filmline engine-serve", summary="Shots, key frames, intros, triggers and labels of videos, as jobs.")

    @app.middleware("http")
    async def bearer_token(request: Request, call_next):
        """With --token, every request carries it: as a bearer header (the API), or as the cookie a
        browser gets once from opening `/?token=TOKEN` (the page, its report links and downloads)."""
        if token is None:
            return await call_next(request)
        if request.url.path == "/" and _same(request.query_params.get("token", ""), token):
            opened = RedirectResponse("/", status_code=303)
            opened.set_cookie(COOKIE, token, httponly=True, samesite="strict")
            return opened
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip() or request.cookies.get(COOKIE, "")
        if not _same(given, token):
            return JSONResponse({"error": "missing or wrong token: send Authorization: Bearer TOKEN "
                                          "(in a browser, open /?token=TOKEN once)"}, status_code=401)
        return await call_next(request)

    @app.exception_handler(Refused)
    async def refused(request: Request, err: Refused) -> JSONResponse:
        return JSONResponse({"error": str(err)}, status_code=err.status)

    @app.exception_handler(EngineError)
    async def bad_setting(request: Request, err: EngineError) -> JSONResponse:
        return JSONResponse({"error": str(err)}, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(err.detail)}, status_code=err.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        first = err.errors()[0]
        return JSONResponse({"error": f"{'.'.join(map(str, first['loc']))}: {first['msg']}"}, status_code=422)

    def job_or_404(job_id: str) -> dict[str, Any]:
        job = store.get(job_id)
        if job is None:
            raise Refused(404, f"no job {job_id}; GET /jobs lists them")
        return job

    def public(job: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in job.items() if key != "path"}

    def finished(job_id: str) -> tuple[dict[str, Any], Path]:
        job = job_or_404(job_id)
        if job["state"] != "done":
            raise Refused(409, f"job {job_id} is {job['state']}; its result exists once it is done")
        return job, store.job_dir(job_id) / f"{Path(job['path']).stem}.json"

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> HTMLResponse:
        return HTMLResponse(PAGE.read_text(encoding="utf-8"))

    @app.get("/library")
    def list_library() -> dict[str, Any]:
        return {"root": str(root), "videos": library(root)}

    @app.post("/uploads", status_code=201)
    async def upload(request: Request, name: str = "upload.mp4") -> dict[str, str]:
        """The raw bytes of a video as the body; checked by decoding it, not by its name."""
        uploads.mkdir(parents=True, exist_ok=True)
        upload_id = uuid.uuid4().hex[:12] + "".join(Path(name).suffixes[-1:])[:8]
        path = uploads / upload_id
        size = 0
        try:
            with path.open("wb") as file:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size <= max_upload_bytes:
                        file.write(chunk)
                    elif size > max_upload_bytes + DRAIN_BYTES:
                        break  # the client gets a reset instead of the 413 below
            if size > max_upload_bytes:
                raise Refused(413, f"upload over the limit of {max_upload_bytes} bytes; engine-serve --max-upload-mb raises it")
            probe_video(path)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return {"upload": upload_id}

    @app.post("/jobs", status_code=201)
    def create_job(body: JobRequest) -> dict[str, Any]:
        if (body.path is None) == (body.upload is None):
            raise Refused(400, "give either path (under the library root) or upload (an id from POST /uploads)")
        if body.path is not None:
            video, name = confined(root, body.path), body.path
        else:
            video, name = confined(uploads.resolve(), body.upload), body.upload
        from filmline.engine.run_settings import build_run_settings

        build_run_settings(run_args(video, state, body.settings))  # bad settings fail now, with a 400
        job = store.add(video, name, body.settings)
        worker.submit(job["id"])
        return public(job)

    @app.get("/jobs")
    def list_jobs() -> list[dict[str, Any]]:
        return [public(job) for job in store.all()]

    @app.get("/jobs/{job_id}")
    def get_job(job_id: str) -> dict[str, Any]:
        return public(job_or_404(job_id))

    @app.delete("/jobs/{job_id}")
    def cancel_job(job_id: str) -> dict[str, Any]:
        job_or_404(job_id)
        worker.cancel(job_id)
        return public(job_or_404(job_id))

    @app.post("/jobs/{job_id}/retry")
    def retry_job(job_id: str) -> dict[str, Any]:
        job = job_or_404(job_id)
        if job["state"] not in ("interrupted", "failed", "cancelled"):
            raise Refused(409, f"job {job_id} is {job['state']}; only interrupted, failed or cancelled jobs run again")
        store.update(job_id, state="queued", frames_done=0, error=None)
        worker.submit(job_id)
        return public(job_or_404(job_id))

    @app.get("/jobs/{job_id}/result")
    def result(job_id: str) -> FileResponse:
        _, json_path = finished(job_id)
        return FileResponse(json_path, media_type="application/json", filename=json_path.name)

    @app.get("/jobs/{job_id}/report", include_in_schema=False)
    def report(job_id: str) -> RedirectResponse:
        _, json_path = finished(job_id)
        return RedirectResponse(f"/jobs/{job_id}/files/{json_path.stem}.html")

    @app.get("/jobs/{job_id}/views/{view}")
    def view(job_id: str, view: str) -> Response:
        """One view of the result (json, csv, html, otio, edl, fcpxml, vtt, ffmeta, sheet) as a download."""
        import json

        from filmline.engine.writers import ViewOptions, render_views

        if view not in FORMATS:
            raise Refused(404, f"unknown view {view}; views: {', '.join(FORMATS)}")
        _, json_path = finished(job_id)
        document = json.loads(json_path.read_text(encoding="utf-8"))
        folder = json_path.parent
        files = render_views(document, (view,), ViewOptions(folder, json_path.stem, folder))
        name, data = sorted(files.items())[0]
        return Response(data, media_type="application/octet-stream",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @app.get("/jobs/{job_id}/files/{name:path}", include_in_schema=False)
    def job_file(job_id: str, name: str) -> FileResponse:
        finished(job_id)
        return FileResponse(confined(store.job_dir(job_id).resolve(), name))

    return app


def _same(given: str, token: str) -> bool:
    return hmac.compare_digest(given.encode(), token.encode())  # in constant time
