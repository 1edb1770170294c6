"""Reading a saved result back: `engine-report` and the folder index take only our documents, of
a schema this version can read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from filmline.engine.errors import BadInputError
from filmline.engine.result import SCHEMA_VERSION


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def check_result(document: Any, path: Path) -> dict[str, Any]:
    """`document` if it is a filmline result this version can read, else a BadInputError naming why."""
    if not (isinstance(document, dict) and isinstance(document.get("engine"), dict)
            and document["engine"].get("name") == "filmline" and isinstance(document.get("shots"), list)
            and isinstance(document.get("schema_version"), str)):
        raise BadInputError(f"{path}: not a filmline result (no engine.name \"filmline\", schema_version and shots); "
                            "pass the <stem>.json that engine-run wrote")
    try:
        version = _version(document["schema_version"])
    except ValueError:
        raise BadInputError(f"{path}: unreadable schema_version {document['schema_version']!r}; "
                            "pass the <stem>.json that engine-run wrote") from None
    if version > _version(SCHEMA_VERSION):
        raise BadInputError(f"{path}: written with result schema {document['schema_version']}, newer than this "
                            f"filmline reads ({SCHEMA_VERSION}); upgrade filmline (pip install -U filmline)")
    return document


def load_result(path: Path) -> dict[str, Any]:
    """The result document in `path`, checked (see `check_result`)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInputError(f"{path}: no such file; pass the <stem>.json that engine-run wrote") from None
    except (OSError, UnicodeDecodeError) as err:
        raise BadInputError(f"{path}: cannot read it ({getattr(err, 'strerror', None) or err}); "
                            "pass the <stem>.json that engine-run wrote") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        raise BadInputError(f"{path}: not JSON ({err.msg} at line {err.lineno}), so not a filmline result; "
                            "pass the <stem>.json that engine-run wrote") from None
    return check_result(document, path)
