"""rainkit's command line: ``rainkit derain | evaluate | score | download | models``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rainkit import __version__
from rainkit.cli import derain, download, evaluate, models
from rainkit.cli._common import CommandError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The ``rainkit`` parser with one sub-parser per command."""
    parser = argparse.ArgumentParser(
        prog="rainkit",
        description="Derain photos with published or your own models, and score results the "
                    "way papers do.",
        epilog="Run 'rainkit COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"rainkit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (derain, evaluate, download, models):
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``rainkit`` command line and return its exit status.

    0 on success, 1 when the command failed (the message says why on stderr), 2 for a usage
    error (argparse's convention).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except CommandError as err:
        print(f"rainkit {args.command}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"rainkit {args.command}: interrupted", file=sys.stderr)
        return 130


def console_main() -> None:  # pragma: no cover - the console-script entry point
    """Entry point of the installed ``rainkit`` script."""
    sys.exit(main())
