"""The ``ganforge`` command. Each sub-command is a module in ganforge/commands/ with
``add_arguments(parser)`` and ``run(args) -> int``; this file only dispatches and turns user
errors into one message and exit code 2 (a traceback only with --debug)."""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from ganforge import __version__
from ganforge.errors import GanforgeError

import ganforge.commands as commands


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own errors: same exit code 2, one line
        self.print_usage(sys.stderr)
        self.exit(2, f"ganforge: error: {one_line(message)}\n")


MAX_MESSAGE = 2000  # characters of an error message shown; the start (problem) and the end (fix) are kept


def one_line(message: str, limit: int = MAX_MESSAGE) -> str:
    """An error message as one readable terminal line: newlines become spaces, control characters (a
    hostile file name's terminal escapes, NUL) are shown escaped, and a message swollen by an echoed
    value (a 100 kB flag) keeps its start and its end."""
    text = " ".join(message.split("\n"))
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    if len(text) > limit:
        head, tail = limit - 500, 480
        text = f"{text[:head]} [... {len(text) - head - tail} characters ...] {text[-tail:]}"
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ganforge", description="Train, evaluate and sample Generative Adversarial Networks.")
    parser.add_argument("--version", action="version", version=f"ganforge {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"ganforge.commands.{info.name}")
        if not hasattr(module, "HELP"):  # shared helpers, not a sub-command
            continue
        name = getattr(module, "NAME", info.name)
        p = sub.add_parser(name, help=module.HELP, description=module.__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show full tracebacks")
        module.add_arguments(p)
        p.set_defaults(handler=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        # Bare `ganforge`: the main job needs a verb; say which.
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except GanforgeError as e:
        if getattr(args, "debug", False):
            raise
        print(f"ganforge: error: {one_line(str(e))}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("ganforge: interrupted", file=sys.stderr)
        return 130


def entry_point() -> None:
    sys.exit(main())
