"""What every console script shares: one place that turns errors into one line and an exit code."""

from __future__ import annotations

import argparse
import sys
import traceback
from typing import Callable

from filmline.engine.errors import EngineError


def say(message: str) -> None:
    """A line for the user on stderr (stdout stays for results and summaries)."""
    print(message, file=sys.stderr, flush=True)


def add_debug_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--debug", action="store_true", help="show tracebacks (and library warnings) for errors")


def run_reporting_errors(prog: str, command: Callable[[], int], *, debug: bool) -> int:
    """Run a command; an `EngineError` becomes `<prog>: <one line>` and its exit code.

    With `debug`, the traceback is printed too (the exit code stays the error's). Anything that is not an `EngineError` is a bug and
    propagates with its traceback.
    """
    try:
        return command()
    except EngineError as err:
        if debug:
            traceback.print_exc()
        say(f"{prog}: {err}")
        return err.exit_code
    except KeyboardInterrupt:
        say(f"{prog}: interrupted; no partial output was left behind")
        return 130


def run_subcommands(prog: str, description: str, commands: dict[str, str], argv: list[str] | None) -> int:
    """A command with subcommands (`engine-train intro …`), each in its own module.

    `commands` maps a subcommand to a module that defines `HELP: str`,
    `configure(parser: argparse.ArgumentParser) -> None` and `run(args) -> int`. Those modules
    import heavy libraries inside `run`, so `--help` stays instant.
    """
    import importlib

    parser = argparse.ArgumentParser(prog=prog, description=description)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = {}
    for name, module_name in commands.items():
        module = importlib.import_module(module_name)
        sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP)
        module.configure(sub)
        add_debug_flag(sub)
        modules[name] = module
    args = parser.parse_args(argv)
    return run_reporting_errors(prog, lambda: modules[args.command].run(args), debug=args.debug)
