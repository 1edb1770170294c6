"""`engine-serve`: the engine as a local web service: a JSON API, a job queue kept in SQLite, and
a page. Needs the `serve` extra (FastAPI, uvicorn)."""
