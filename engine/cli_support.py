"""What every console script shares: `--version`, `--debug`, the console's notes, and one place
that turns errors into one line and an exit code."""

from __future__ import annotations

import argparse
import sys
import traceback
from typing import Callable

import filmline
from filmline.engine.errors import EngineError

_quiet = False  # --quiet: the process prints errors only (set once by the command, see `set_quiet`)


def say(message: str) -> None:
    """A line for the user on stderr (stdout stays for results and summaries); errors use this."""
    print(message, file=sys.stderr, flush=True)


def notice(message: str) -> None:
    """A note or warning on stderr, silent under `--quiet`."""
    if not _quiet:
        say(message)


def set_quiet(quiet: bool) -> None:
    """`--quiet`: from now on `notice` prints nothing. Console state of this one process, like a
    logging level, so the stages that print notes need not carry a flag around."""
    global _quiet
    _quiet = quiet


def add_version_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", action="version", version=f"filmline {filmline.__version__}",
                        help="print the filmline version and exit")


def add_debug_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--debug", action="store_true", help="show tracebacks (and library warnings) for errors")


def add_common_flags(parser: argparse.ArgumentParser) -> None:
    """The flags every console script has: `--version` and `--debug`."""
    add_version_flag(parser)
    add_debug_flag(parser)


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
        say(f"{prog}: interrupted")
        return 130


def run_subcommands(prog: str, description: str, commands: dict[str, str], argv: list[str] | None) -> int:
    """A command with subcommands (`engine-train intro …`), each in its own module.

    `commands` maps a subcommand to a module that defines `HELP: str`,
    `configure(parser: argparse.ArgumentParser) -> None` and `run(args) -> int`. Those modules
    import heavy libraries inside `run`, so `--help` stays instant.
    """
    import importlib

    parser = argparse.ArgumentParser(prog=prog, description=description)
    add_version_flag(parser)
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
