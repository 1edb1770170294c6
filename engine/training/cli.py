"""`engine-train MODEL …`: one subcommand per trainable model."""

from __future__ import annotations

import sys

from filmline.engine.cli_support import run_subcommands

COMMANDS = {
    "intro": "filmline.engine.training.intro",
    "trigger": "filmline.engine.training.trigger",
}


def main(argv: list[str] | None = None) -> int:
    return run_subcommands("engine-train", "Train the intro transformer or the trigger CNN from annotations.", COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
