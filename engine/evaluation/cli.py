"""`engine-eval TASK …`: one subcommand per kind of result."""

from __future__ import annotations

import sys

from filmline.engine.cli_support import run_subcommands

COMMANDS = {
    "shots": "filmline.engine.evaluation.shots",
    "intro": "filmline.engine.evaluation.intro",
}


def main(argv: list[str] | None = None) -> int:
    return run_subcommands("engine-eval", "Score engine results against ground-truth annotations.", COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
