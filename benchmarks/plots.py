"""PNG plots of one suite's figures: stage throughput, and the side-by-side run.

matplotlib is optional: without it no plot is drawn and the report says so, the JSON and
Markdown are written all the same.
"""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path
from typing import Any

from filmline.engine.output_files import write_atomic

THROUGHPUT_UNITS = ("frames/s", "images/s")


def write_plots(section: dict[str, Any], folder: Path, suite: str) -> tuple[list[Path], str | None]:
    """The plots written into `folder`, and a note when none could be drawn."""
    if importlib.util.find_spec("matplotlib") is None:
        return [], "plots skipped: matplotlib is not installed (pip install matplotlib, or the bench extra)"
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for name, draw in ((f"{suite}-stages.png", _stages), (f"{suite}-side-by-side.png", _side_by_side)):
        figure = draw(section)
        if figure is None:
            continue
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
        plt.close(figure)
        write_atomic(folder / name, buffer.getvalue())
        written.append(folder / name)
    return written, None


def _stages(section: dict[str, Any]):
    import matplotlib.pyplot as plt

    figures = [f for f in section["figures"] if f["unit"] in THROUGHPUT_UNITS and f["value"]]
    if not figures:
        return None
    labels = [_label(f) for f in figures]
    figure, axes = plt.subplots(figsize=(8, 0.35 * len(figures) + 1.2))
    axes.barh(range(len(figures)), [f["value"] for f in figures], color="#4477aa")
    axes.set_yticks(range(len(figures)), labels, fontsize=8)
    axes.invert_yaxis()
    axes.set_xscale("log")
    axes.set_xlabel("frames/s (decode, cheap pass) or images/s (encoder), log scale; median")
    axes.set_title(f"Per-stage throughput, {section['machine']['id']}", fontsize=10)
    for k, f in enumerate(figures):
        axes.text(f["value"], k, f" {f['value']:,.0f}", va="center", fontsize=7)
    return figure


def _side_by_side(section: dict[str, Any]):
    import matplotlib.pyplot as plt

    rows = section["side_by_side"]
    if not rows:
        return None
    films = list(dict.fromkeys(r["film"] for r in rows))
    tools = list(dict.fromkeys(r["tool"] for r in rows))
    width = 0.8 / len(tools)
    figure, (speed, accuracy) = plt.subplots(1, 2, figsize=(11, 3.8))
    for k, tool in enumerate(tools):
        by_film = {r["film"]: r for r in rows if r["tool"] == tool}
        xs = [i + k * width for i, film in enumerate(films) if film in by_film]
        speed.bar(xs, [by_film[f]["realtime_factor"] for f in films if f in by_film], width, label=tool, color=f"C{k}")
        scored = [(i + k * width, by_film[f]["f1"]["2f"])
                  for i, f in enumerate(films) if f in by_film and by_film[f]["f1"]]
        if scored:
            accuracy.bar([x for x, _ in scored], [v for _, v in scored], width, label=tool, color=f"C{k}")
    for axes, title in ((speed, "x realtime (video s per wall s), higher is faster"),
                        (accuracy, "boundary F1 at 2 frames (engine-eval shots)")):
        axes.set_xticks([i + 0.4 - width / 2 for i in range(len(films))], films, fontsize=7, rotation=10)
        axes.set_title(title, fontsize=9)
    accuracy.set_ylim(0, 1.05)
    speed.legend(fontsize=7)
    figure.suptitle(f"End to end, side by side, {section['machine']['id']}", fontsize=10)
    return figure


def _label(figure: dict[str, Any]) -> str:
    setup, given = figure.get("setup", {}), figure["input"]
    if figure["stage"] == "encoder":
        graphs = ", graphs" if setup.get("cuda_graphs") else ""
        return f"encoder {setup['backend']} ({setup['device']}, {setup['precision']}{graphs}, batch {setup['batch']})"
    return f"{figure['stage']} {given.get('film', '')}"
