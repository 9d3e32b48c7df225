"""Bad input, and how every command ends on it: one line on stderr (``error: ...``) and exit code 2, no
traceback; Ctrl-C is one line and exit code 130.

Bad input is a ``UserError``, wherever it is raised (hydra.utils.instantiate wraps the errors of the
classes it builds: the UserError is looked for along the chain of causes). Anything else is a bug, and
keeps its traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any


class UserError(RuntimeError):
    """The input is wrong: printed as one line, without a traceback."""


def first_line(e: BaseException | None, width: int | None = None) -> str:
    """An exception's first line (its type's name when it says nothing), cut to ``width``."""
    text = str(e).strip() if e is not None else ""
    line = text.splitlines()[0] if text else type(e).__name__
    return line if width is None else line[:width]


def shorten(value: Any, width: int = 60) -> str:
    """A value as a message shows it: a long prompt is cut in the middle, so both ends stay readable."""
    text = " ".join(str(value).split())
    return text if len(text) <= width else f"{text[: width // 2 - 2]} ... {text[-(width // 2 - 3):]}"


EXIT_BAD_INPUT = 2  # argparse's code for a bad command line
EXIT_INTERRUPTED = 130  # a shell's code for a command ended by Ctrl-C (128 + SIGINT)


def causes(e: BaseException | None):
    """The exception and what it wraps."""
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        yield e
        e = e.__cause__ or e.__context__


def user_error(e: BaseException) -> UserError | None:
    return next((c for c in causes(e) if isinstance(c, UserError)), None)


def fail(message: object) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def guarded(body: Callable[[], int | None]) -> int:
    """``body()``'s exit code, or 2 after one line when it raised a UserError (130 after one line on
    Ctrl-C: what these commands write is whole or absent, and they resume where they stopped)."""
    try:
        return body() or 0
    except KeyboardInterrupt:
        print("interrupted; what was written is whole; run the same command to go on", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as e:
        found = user_error(e)
        if found is None:
            raise
        return fail(found)


def one_line_errors(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """argparse's errors as one line (its own print the whole usage first, wrapped over several)."""

    def error(message: str):
        parser.exit(EXIT_BAD_INPUT, f"error: {message} (see {parser.prog} --help)\n")

    parser.error = error
    return parser


def sizes(text: str) -> list[int]:
    """An argparse type: comma-separated whole numbers, each at least 1, in order, without repeats."""
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"each size must be at least 1, got {text!r}")
    return sorted(set(values))


def version() -> str:
    """``reno_exp <version>``, as the installed distribution's metadata says (a checkout that was never
    installed has none)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return f"reno_exp {installed('reno_exp')}"
    except PackageNotFoundError:
        return "reno_exp (not installed: no version metadata)"


def command_name(module_form: str) -> str:
    """The command as it was typed: a console script's name (``reno-exp-bench``), else ``module_form``
    (``python -m reno_exp.bench``), so usage lines and errors name what the user can run again."""
    script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    script = script.removesuffix(".exe")  # Windows' console-script launchers
    return script if script.startswith("reno-exp") else module_form


class VersionAction(argparse.Action):
    """``--version``: the version line on stdout, exit 0 (looked up only when asked)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest, nargs=0, default=default, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(version())  # stdout, as argparse's own version action and every other tool
        parser.exit(0)


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line, exit code 2; ``--version``; options and positional
    arguments (a command's Hydra overrides) in any order: ``model=tiny --batch-sizes 1 optimizer.n_iters=2``
    (argparse's plain parse takes a ``nargs="*"`` positional in one run and refuses the rest)."""

    def __init__(self, *args, prog: str | None = None, **kwargs):
        super().__init__(*args, prog=command_name(prog) if prog else None, **kwargs)
        self.add_argument("--version", action=VersionAction, help="print the version and exit")

    def parse_args(self, args=None, namespace=None):
        # parse_intermixed_args calls parse_known_args, never parse_args: no recursion
        return self.parse_intermixed_args(args, namespace)

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"error: {message} (see {self.prog} --help)\n")
