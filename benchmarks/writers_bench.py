"""The views' cost: every format written for a generated two-hour film with 2 000 shots
(`benchmarks.report_film`), CPU milliseconds per format, and the HTML report's size. The CPU time
is the writing thread's own (`time.thread_time`): the writers run in the caller's thread, so
threads the harness left running, and other load on the machine, do not count. Key frames are
not there (the contact sheet draws its placeholder tiles; reading real thumbnails is the key
frames' own cost)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from filmline.benchmarks.measure import Recorder, Timing
from filmline.benchmarks.report_film import synthetic_document
from filmline.engine.writers import DEFAULT_FORMATS, FORMATS, ViewOptions, render_views, write_views

SHOTS, SECONDS, FPS = 2000, 7200.0, 25.0


def measure_writers(rec: Recorder, warmup: int, repeats: int) -> None:
    document = synthetic_document(shots=SHOTS, seconds=SECONDS, fps=FPS, thumbnails=False)
    given = {"document": f"generated: {SECONDS / 3600:.0f} h at {FPS:g} fps, {SHOTS} shots with labels, captions, "
                         f"intro, credits, triggers (benchmarks.report_film)"}
    with tempfile.TemporaryDirectory(prefix="engine-bench-writers-") as work:
        options = ViewOptions(Path(work), "film", Path(work))
        sets = {name: (name,) for name in FORMATS} | {"default": DEFAULT_FORMATS, "all": FORMATS}
        for label, formats in sets.items():
            for _ in range(warmup):
                write_views(document, formats, options)
            samples = []
            for _ in range(repeats):
                started = time.thread_time()
                write_views(document, formats, options)
                samples.append(time.thread_time() - started)
            timing = Timing(samples, warmup)
            details = {}
            if label == "html":
                details["bytes"] = len(render_views(document, ("html",), options)["film.html"])
            rec.add(f"writers/{label}", "cpu_milliseconds", 1000 * timing.median, "ms CPU", input=given,
                    depends_on=("opentimelineio", "jinja2", "pillow"), timing=timing,
                    setup={"formats": ",".join(formats)}, **details)
