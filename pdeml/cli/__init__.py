"""The ``pdeml`` command line: parse, call the public API, print.

``app`` holds the parser and the entry point, ``commands`` one function per command,
``outputs`` the checks of the files a command writes, ``settings`` the ``--set`` values.
"""

from pdeml.cli.app import USER_ERRORS, build_parser, main, run
from pdeml.cli.settings import parse_assignment

__all__ = ["USER_ERRORS", "build_parser", "main", "parse_assignment", "run"]
