"""`engine-serve --root DIR`: the web service. Thin: parse, refuse unsafe settings, start uvicorn."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from filmline.engine.cli_support import add_common_flags, run_reporting_errors
from filmline.engine.config import read_config
from filmline.engine.errors import BadInputError, MissingModelError
from filmline.engine.home import engine_home

PROG = "engine-serve"
INSTALL = 'pip install "filmline[serve]"'


def build_parser() -> argparse.ArgumentParser:
    defaults = read_config("serve.yaml")
    parser = argparse.ArgumentParser(prog=PROG, description="Analyse the videos of a library as jobs: a JSON API and a page.")
    parser.add_argument("--root", type=Path, required=True, help="the library folder; requests may name files under it only")
    parser.add_argument("--host", default=defaults["host"],
                        help="address to bind (default %(default)s; any other needs --token)")
    parser.add_argument("--port", type=int, default=defaults["port"], help="port (default %(default)s)")
    parser.add_argument("--token", help="a bearer token every request must send (Authorization: Bearer TOKEN)")
    parser.add_argument("--state", type=Path, default=engine_home() / "serve",
                        help="the service's folder: jobs.sqlite3, uploads and results (default %(default)s)")
    parser.add_argument("--max-upload-mb", type=float, default=defaults["max_upload_mb"],
                        help="largest upload accepted, in MB (default %(default)s)")
    add_common_flags(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_reporting_errors(PROG, lambda: serve(args), debug=args.debug)


def serve(args: argparse.Namespace) -> int:
    if args.host not in ("127.0.0.1", "localhost", "::1") and not args.token:
        raise BadInputError(f"--host {args.host} makes the service reachable from other machines; give --token TOKEN too")
    if not args.root.is_dir():
        raise BadInputError(f"--root {args.root} is not a folder; pass the library folder")
    try:
        import uvicorn

        from filmline.engine.serve.app import create_app
    except ModuleNotFoundError as err:
        if err.name not in ("fastapi", "uvicorn", "starlette", "pydantic"):
            raise  # our own import broke: a bug, not a missing extra
        raise MissingModelError(f"engine-serve needs FastAPI and uvicorn ({err.name} is missing): {INSTALL}") from err
    app = create_app(args.root, args.state, args.token, int(args.max_upload_mb * 1024 * 1024))
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
