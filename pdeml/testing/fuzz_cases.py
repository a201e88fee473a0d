"""The catalogue of robustness cases: user mistakes at the command line and in the Python API.

A :class:`Case` is plain data (it crosses to a worker process): the command-line arguments
or an API call with placeholders for fixtures, what should happen (an error, success, or
either), and the words its message must contain. Mistakes are built systematically (every
option of every command crossed with values of the wrong kind), not picked by hand, so that
a new option is fuzzed as soon as it is added to these tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LONG_NAME = "x" * 300 + ".h5"


@dataclass(frozen=True)
class Arr:
    """An array to build in the worker: ``shape``, ``dtype``, filled with ``fill``;
    ``bad`` is written at sample 1 (or 0 when there is one sample)."""

    shape: tuple[int, ...]
    dtype: str = "float64"
    fill: float = 1.0
    bad: Any = None


@dataclass(frozen=True)
class Case:
    """One robustness case.

    Attributes
    ----------
    id : str
        Unique, readable name (``group/what``).
    argv : tuple of str
        For a command-line case: the arguments after ``pdeml``; paths are relative to the
        case's copy of the fixtures.
    call : str
        For an API case: ``"pdeml.name"``, ``"module:name"`` or ``"@fixture.method"``.
    args, kwargs
        The call's arguments; a string ``"@name"`` is replaced by that fixture, an
        :class:`Arr` by its array, a dict of them by a dict of arrays.
    expect : {"error", "ok", "any"}
        ``error``: a user error (non-zero exit, or ValueError/TypeError/OSError kinds);
        ``ok``: success; ``any``: either, as long as there is no traceback.
    mentions : tuple of str
        Words the message must contain (case-insensitive, whole words); ``"a|b"`` accepts
        either.
    may_write : bool
        Whether new files are allowed (successful cases write their outputs).
    """

    id: str
    argv: tuple[str, ...] = ()
    call: str = ""
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    expect: str = "error"
    mentions: tuple[str, ...] = ()
    may_write: bool = False

    @property
    def kind(self) -> str:
        return "api" if self.call else "cli"

    @property
    def group(self) -> str:
        return self.id.split("/", 1)[0]
