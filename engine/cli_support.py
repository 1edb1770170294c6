"""What every console script shares: one place that turns errors into one line and an exit code."""

from __future__ import annotations

import argparse
import sys
from typing import Callable

from engine.errors import EngineError


def say(message: str) -> None:
    """A line for the user on stderr (stdout stays for results and summaries)."""
    print(message, file=sys.stderr, flush=True)


def add_debug_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")


def run_reporting_errors(command: Callable[[], int], *, debug: bool) -> int:
    """Run a command; an `EngineError` becomes `error: <one line>` and its exit code.

    With `debug`, the traceback is kept. Anything that is not an `EngineError` is a bug and
    propagates with its traceback.
    """
    try:
        return command()
    except EngineError as err:
        if debug:
            raise
        say(f"error: {err}")
        return err.exit_code
    except KeyboardInterrupt:
        say("interrupted")
        return 130
