"""Where built model artifacts live: `$ENGINE_HOME`, default `~/.cache/filmline`."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_NAME = "filmline"


def engine_home() -> Path:
    """The artifact root. `engine-build` writes below it and `engine-run` looks there."""
    configured = os.environ.get("ENGINE_HOME")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / PROJECT_NAME


def artifact_dir(model_name: str, home: Path | None = None) -> Path:
    """The folder of one built model, e.g. `~/.cache/filmline/siglip`."""
    return (home or engine_home()) / model_name
