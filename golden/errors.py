"""Errors that a user can cause (bad files, bad parameters) and the CLI wrapper that reports them.

A :class:`UserError` carries one sentence; command-line entry points print it and exit 2
instead of showing a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable


class UserError(Exception):
    """A problem with the user's input, described in one sentence (exit code 2)."""

    exit_code = 2


def run_cli(main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """Run ``main(argv)``; turn a :class:`UserError` or Ctrl-C into one line and exit code 2."""
    try:
        return main(argv)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 2
