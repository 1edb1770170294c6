"""`index.html` of an output folder: one row per video result in it (duration, shots, intro,
failures, stages not run) with links to its report and files. `engine-run` rewrites it as each
video finishes; the rows come from the `<stem>.json` files there, so videos of earlier runs stay
listed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from filmline.engine.errors import BadInputError
from filmline.engine.output_files import write_atomic
from filmline.engine.timecode import timecode
from filmline.engine.writers.html_report import asset, templates
from filmline.engine.writers.saved import check_result

LINKED = (("report", ".html"), ("json", ".json"), ("csv", ".shots.csv"), ("sheet", ".sheet.jpg"),
          ("otio", ".otio"), ("edl", ".edl"), ("fcp xml", ".fcp.xml"), ("chapters", ".chapters.vtt"))


def index_rows(folder: Path) -> list[dict[str, Any]]:
    """A row per readable result in `folder`, by file name; other JSON files are passed over."""
    rows = []
    for path in sorted(folder.glob("*.json")):
        try:
            document = check_result(json.loads(path.read_text(encoding="utf-8")), path)
        except (OSError, ValueError, BadInputError):
            continue
        stem = path.name[: -len(".json")]
        rows.append({
            "stem": stem,
            "video": Path(document["video"]["path"]).name,
            "duration": timecode(document["video"]["duration"]),
            "shots": len(document["shots"]),
            "intro": _segment(document.get("intro")),
            "failures": _failures(document),
            "skipped": [s["stage"] for s in (document.get("models") or {}).get("skipped") or []],
            "links": [(name, f"{stem}{suffix}") for name, suffix in LINKED if (folder / f"{stem}{suffix}").is_file()],
        })
    return rows


def _segment(segment: dict[str, Any] | None) -> str:
    return f"{timecode(segment['start'])}–{timecode(segment['end'])}" if segment else "—"


def _failures(document: dict[str, Any]) -> list[str]:
    """What did not go right for this video, one short phrase each."""
    found = []
    video = document["video"]
    if video.get("corrupt_frames_skipped"):
        found.append(f"{video['corrupt_frames_skipped']} corrupt frames")
    if video.get("truncated"):
        found.append("truncated")
    failed = (document.get("vlm") or {}).get("failed_total")
    if failed:
        found.append(f"{failed} VLM requests failed")
    return found


INDEX = "index.html"


def write_index(folder: Path) -> Path:
    """Write `folder/index.html` from the results in it; returns its path."""
    page = templates().get_template("index.html.j2").render(rows=index_rows(folder), css=asset("report.css"),
                                                               folder=folder.resolve().name)
    path = folder / INDEX
    write_atomic(path, page.encode("utf-8"))
    return path
