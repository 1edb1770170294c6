"""The document itself (`<stem>.json`) and PySceneDetect's scene-list CSV (`<stem>.shots.csv`),
as views; their bytes come from `filmline.engine.result`."""

from __future__ import annotations

from typing import Any

from filmline.engine.result import json_bytes, shots_csv_bytes
from filmline.engine.writers import ViewOptions


def json_view(document: dict[str, Any], options: ViewOptions) -> bytes:
    return json_bytes(document)


def csv_view(document: dict[str, Any], options: ViewOptions) -> bytes:
    return shots_csv_bytes(document)


VIEWS = {"json": json_view, "csv": csv_view}
