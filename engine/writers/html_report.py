"""The HTML report, `<stem>.html`: one self-contained page per video (CSS, script and charts
inline, no network), key frames by relative path.

Sections: the video's facts and the models that ran or were skipped (with the fix); a timeline
strip over the whole video (shots coloured by the transition into them, gradual spans, intro,
credits, triggers, action-label bands; it zooms and scrolls); a `<video>` of the source when it
is reachable by relative path (clicking a shot plays from its start); the summary, the trigger
analyses, the action profile as an SVG chart; the shot list, one `tr.shot[data-shot=N]` per shot.

The page is rendered with jinja2 (autoescaped); this module turns the document into the
template's plain values (positions in seconds, formatted once).
"""

from __future__ import annotations

import os
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from filmline.engine.timecode import timecode
from filmline.engine.writers import ViewOptions

TRANSITION_COLOURS = {"first": "#8a8f98", "cut": "#4a86c8", "dissolve": "#a66bd3", "fade": "#e39b36",
                      "fade_in": "#e39b36", "fade_out": "#e39b36"}
CUT_ALTERNATE = "#34689f"  # every other cut-in shot, so neighbouring blocks stay apart
LABEL_COLOURS = {"Fight": "#e53935", "Heist": "#8e24aa", "Escape": "#43a047", "Rescue": "#00acc1",
                 "Capture": "#8d6e63", "Pursuit": "#fb8c00", "Speed": "#c0ca33"}
SPARE_COLOURS = ("#5c6bc0", "#26a69a", "#ec407a", "#7e57c2", "#9ccc65", "#ffa726")
STRIP_SHOTS = 40.0  # timeline strip: height of the shot row (SVG units; the strip is 100 tall)
PROFILE_HEIGHT = 120.0


@lru_cache(maxsize=1)
def templates():
    """The report's templates. Their per-row dicts are read as `r["number"]`, not `r.number`: Jinja
    tries an attribute first, and 60 000 failed attribute look-ups cost 30 ms for 2 000 shots."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("filmline.engine.writers", "assets"),
        autoescape=True, trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined,
    )


def asset(name: str) -> str:
    """An inlined asset's text (CSS, script)."""
    return resources.files("filmline.engine.writers").joinpath("assets", name).read_text(encoding="utf-8")


def html_view(document: dict[str, Any], options: ViewOptions) -> bytes:
    page = templates().get_template("report.html.j2").render(
        **page_values(document, options), css=asset("report.css"), script=asset("report.js"))
    return page.encode("utf-8")


def page_values(document: dict[str, Any], options: ViewOptions) -> dict[str, Any]:
    """Everything the template shows, formatted."""
    video, shots = document["video"], document["shots"]
    duration = max(float(video["duration"]), 1e-6)
    labels = _label_names(shots)
    colours = {name: LABEL_COLOURS.get(name, SPARE_COLOURS[i % len(SPARE_COLOURS)]) for i, name in enumerate(labels)}
    return {
        "stem": options.stem,
        "engine": document["engine"],
        "facts": _facts(video),
        "models_ran": _models_ran(document.get("models") or {}),
        "models_skipped": (document.get("models") or {}).get("skipped") or [],
        "video_src": source_url(video["path"], options.out_dir),
        "video_path": video["path"],
        "duration": duration,
        "blocks": _blocks(shots),
        "spans": _spans(shots),
        "segments": [{"kind": kind, "start": s["start"], "width": max(s["end"] - s["start"], 0.0),
                      "text": f"{kind} {timecode(s['start'])}–{timecode(s['end'])}"}
                     for kind in ("intro", "credits") if (s := document.get(kind))],
        "triggers": (triggers := _triggers(document, options)),
        "has_trigger_frames": any(t["image"] for t in triggers),
        "frame_size": (video.get("width") or 1, video.get("height") or 1),  # the boxes' pixels
        "trigger_summary": (document.get("triggers") or {}).get("video_summary"),
        "bands": _bands(shots, labels, colours),
        "label_colours": colours,
        "transition_colours": {k: v for k, v in TRANSITION_COLOURS.items() if k not in ("fade_in", "fade_out")},
        "summary": document.get("summary"),
        "profile": _profile(document.get("action_profile"), colours, duration),
        "sequences": (document.get("action_profile") or {}).get("sequences") or [],
        "rows": [_row(shot, options) for shot in shots],
        "timecode": timecode,
    }


def source_url(path: str, out_dir: Path) -> str | None:
    """The source video as a URL relative to the report, when the file is there to play."""
    source = Path(path)
    if not source.is_file():
        return None
    return Path(os.path.relpath(source.resolve(), out_dir.resolve())).as_posix()


def _facts(video: dict[str, Any]) -> list[tuple[str, str]]:
    facts = [
        ("file", str(video["path"])),
        ("duration", f"{timecode(video['duration'])} ({video['frame_count']} frames)"),
        ("picture", f"{video.get('width')}×{video.get('height')}, {video.get('codec')}"),
        ("frame rate", f"{video['fps']:.3f} fps" if video.get("fps") else "unknown"),
        ("decoder", str(video.get("decoder"))),
    ]
    if video.get("corrupt_frames_skipped"):
        facts.append(("corrupt frames skipped", str(video["corrupt_frames_skipped"])))
    if video.get("truncated"):
        facts.append(("truncated", "yes: the result covers the decodable part"))
    return facts


def _models_ran(models: dict[str, Any]) -> list[tuple[str, str]]:
    ran = []
    for stage, facts in models.items():
        if stage == "skipped" or not isinstance(facts, dict):
            continue
        shown = ", ".join(f"{k} {v}" for k, v in facts.items() if isinstance(v, (str, int, float)) and v != "")
        ran.append((stage, shown))
    return ran


def _blocks(shots: list[dict[str, Any]]) -> list[dict[str, Any]]:
    blocks = []
    for shot in shots:
        kind = (shot.get("transition_in") or {}).get("kind", "first")
        colour = TRANSITION_COLOURS.get(kind, TRANSITION_COLOURS["cut"])
        if kind == "cut" and shot["index"] % 2:
            colour = CUT_ALTERNATE
        blocks.append({"index": shot["index"], "x": shot["start_time"], "width": shot["end_time"] - shot["start_time"],
                       "colour": colour, "text": f"shot {shot['index'] + 1}: {kind}, {timecode(shot['start_time'])}"})
    return blocks


def _spans(shots: list[dict[str, Any]]) -> list[dict[str, Any]]:
    spans = []
    for shot in shots[1:]:
        span = (shot.get("transition_in") or {}).get("span")
        if span:
            spans.append({"x": span["start_time"], "width": max(span["end_time"] - span["start_time"], 0.0),
                          "text": f"{shot['transition_in']['kind']} {timecode(span['start_time'])}–{timecode(span['end_time'])}"})
    return spans


def _triggers(document: dict[str, Any], options: ViewOptions) -> list[dict[str, Any]]:
    """Each trigger, with its saved frame and the detected objects' boxes (source pixels) when
    the object stage ran."""
    found = (document.get("triggers") or {}).get("triggers") or []
    return [{"time": t["timestamp"], "timecode": timecode(t["timestamp"]), "confidence": t["trigger_confidence"],
             "analysis": t.get("analysis"), "image": options.relative(t["image"]) if t.get("image") else None,
             "objects": [{"label": o["label"], "score": o["score"], "x": o["box"][0], "y": o["box"][1],
                          "width": o["box"][2] - o["box"][0], "height": o["box"][3] - o["box"][1]}
                         for o in t.get("objects") or ()]} for t in found]


def _label_names(shots: list[dict[str, Any]]) -> list[str]:
    """The action labels present, in a stable order (the known categories first)."""
    present = {label for shot in shots for label in shot.get("labels") or () if label != "none"}
    return [n for n in LABEL_COLOURS if n in present] + sorted(present - set(LABEL_COLOURS))


def _bands(shots: list[dict[str, Any]], labels: list[str], colours: dict[str, str]) -> list[dict[str, Any]]:
    """One lane per label under the shots; consecutive shots with the label merge into one band."""
    if not labels:
        return []
    lane = (100.0 - STRIP_SHOTS - 16.0) / len(labels)
    bands = []
    for number, label in enumerate(labels):
        run_start = None
        for shot in [*shots, None]:
            holds = shot is not None and label in (shot.get("labels") or ())
            if holds and run_start is None:
                run_start = shot["start_time"]
            elif not holds and run_start is not None:
                end = previous["end_time"]
                bands.append({"label": label, "x": run_start, "width": end - run_start, "colour": colours[label],
                              "y": STRIP_SHOTS + 16.0 + number * lane, "height": lane * 0.85,
                              "text": f"{label} {timecode(run_start)}–{timecode(end)}"})
                run_start = None
            previous = shot
    return bands


def _profile(profile: dict[str, Any] | None, colours: dict[str, str], duration: float) -> list[dict[str, Any]]:
    """Stacked bars per minute: each label's share of the minute (labels may overlap, so a bar is
    scaled to the largest total and the axis says so)."""
    if not profile or not profile.get("minutes"):
        return []
    minutes = profile["minutes"]
    top = max(1.0, max(sum(v for k, v in m["shares"].items() if k in colours) for m in minutes))
    bars = []
    for minute in minutes:
        y = PROFILE_HEIGHT
        for label, share in minute["shares"].items():
            if label not in colours or share <= 0:
                continue
            height = PROFILE_HEIGHT * share / top
            y -= height
            bars.append({"x": minute["start"], "width": minute["end"] - minute["start"], "y": y, "height": height,
                         "colour": colours[label], "text": f"{label} {share:.0%} of {timecode(minute['start'])[:-4]}"})
    return bars


def _row(shot: dict[str, Any], options: ViewOptions) -> dict[str, Any]:
    probabilities = shot.get("label_probabilities") or {}
    labels = [(label, probabilities.get(label)) for label in shot.get("labels") or ()]
    transition = shot.get("transition_in")
    return {
        "index": shot["index"], "number": shot["index"] + 1, "start": shot["start_time"],
        "start_tc": timecode(shot["start_time"]), "end_tc": timecode(shot["end_time"]),
        "frames": f"{shot['start_frame']}–{shot['end_frame']}", "duration": f"{shot['duration']:.2f} s",
        "transition": transition["kind"] if transition else "start",
        "image": options.relative(shot["thumbnail"]) if shot.get("thumbnail") else None,
        "labels": labels, "caption": shot.get("caption"),
        "error": "; ".join(f"{k}: {v}" for k, v in (shot.get("vlm_error") or {}).items()),
    }


VIEWS = {"html": html_view}
