"""`engine-run --speak`: the video's summary (and its trigger summary) read aloud into
`<stem>.summary.wav`, offline. espeak-ng (a system program) by default; Piper with a voice file
the user gives (`--speak-voice FILE.onnx`) for a more natural voice.

Not one of the `--format` views: those work on every install, and this one needs a speech engine
the system may lack, so it is asked for on its own and checked before any video is analysed.
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path
from typing import Any

from filmline.engine.cli_support import notice
from filmline.engine.errors import BackendError, BadInputError, MissingModelError
from filmline.engine.vlm.options import ENABLE_HINT

ESPEAK_INSTALL = "apt-get install -y espeak-ng"
PIPER_INSTALL = "pip install piper-tts"


def add_speech_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--speak", action="store_true",
                        help="also write <stem>.summary.wav: the summary read aloud by espeak-ng (needs --vlm for a summary)")
    parser.add_argument("--speak-voice", type=Path, metavar="FILE.onnx",
                        help="read it with Piper and this voice file instead (pip install piper-tts); implies --speak")


def summary_text(document: dict[str, Any]) -> str | None:
    """What is read: the video's summary, then the trigger summary; None when the VLM wrote neither."""
    parts = [document.get("summary"), (document.get("triggers") or {}).get("video_summary")]
    text = " ".join(part.strip() for part in parts if part and part.strip())
    return text or None


class Speaker:
    """A speech engine checked once (before the analysis), then used for each finished video."""

    def __init__(self, voice: Path | None) -> None:
        self.voice = voice
        if voice is None:
            self.espeak = shutil.which("espeak-ng")
            if self.espeak is None:
                raise MissingModelError(f"--speak needs espeak-ng, which is not installed: {ESPEAK_INSTALL}")
            return
        if not voice.is_file():
            raise BadInputError(f"--speak-voice {voice}: no such file; pass a Piper voice (.onnx, its .onnx.json beside it)")
        try:
            from piper import PiperVoice
        except ImportError as err:
            raise MissingModelError(f"--speak-voice needs Piper, which is not installed: {PIPER_INSTALL}") from err
        self.piper = PiperVoice.load(str(voice))

    def wav(self, text: str) -> bytes:
        """16-bit PCM mono WAV bytes of `text`."""
        if self.voice is not None:
            buffer = io.BytesIO()
            with wave.open(buffer, "wb") as file:
                self.piper.synthesize_wav(text, file)
            return buffer.getvalue()
        # A file, not --stdout: espeak-ng cannot seek back to fill in the header's sizes on a pipe.
        # The text goes in on stdin, never through a shell or the argument list.
        with tempfile.TemporaryDirectory(prefix="filmline-speech-") as folder:
            target = Path(folder) / "speech.wav"
            done = subprocess.run([self.espeak, "--stdin", "-w", str(target)], input=text.encode("utf-8"),
                                  capture_output=True, timeout=600)
            if done.returncode != 0 or not target.is_file():
                raise BackendError(f"espeak-ng failed: {done.stderr.decode(errors='replace').strip() or done.returncode}")
            return target.read_bytes()

    def speak(self, document: dict[str, Any], out_dir: Path, stem: str) -> Path | None:
        """Write `<stem>.summary.wav` (atomically); with no summary, a note and nothing written."""
        from filmline.engine.output_files import write_atomic

        text = summary_text(document)
        if text is None:
            notice(f"note: {stem}: no summary to speak (the vision-language stage did not run); enable with {ENABLE_HINT}")
            return None
        path = out_dir / f"{stem}.summary.wav"
        write_atomic(path, self.wav(text))
        return path

    def speak_all(self, done: list[tuple[Path, dict[str, Any], Any]], out_dir: Path) -> None:
        """Each finished video of a run (`Ledger.done`)."""
        for video, document, _ in done:
            self.speak(document, out_dir, video.stem)


def open_speaker(args: argparse.Namespace) -> Speaker | None:
    """The speaker `--speak`/`--speak-voice` ask for, or None; a missing engine fails here, in one line."""
    if not (args.speak or args.speak_voice):
        return None
    return Speaker(args.speak_voice)
