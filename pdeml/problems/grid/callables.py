"""User functions named by their import path, ``"module:function"``.

A grid problem travels as a plain dict (to worker processes, into dataset files, through
TOML), so it names the user's solver and sampler by path instead of holding them. A path is
only imported when the function is called: opening a dataset never runs user code.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def callable_path(function: Callable[..., Any], where: str) -> str:
    """The ``"module:qualname"`` path of a module-level function (or class).

    Raises
    ------
    ValueError
        For a lambda, a function defined inside another function, or an object without a
        module: other processes could not find it by name.
    """
    module = getattr(function, "__module__", None)
    qualname = getattr(function, "__qualname__", None)
    if not module or not qualname or "<" in qualname:
        raise ValueError(
            f"{where}: expected a function defined at the top level of a module (so that "
            f"worker processes can import it by name), got {function!r}"
        )
    return f"{module}:{qualname}"


def check_callable_path(path: str, where: str) -> None:
    """Refuse a path that is not ``"module:name"`` with dotted identifiers on both sides."""
    module, colon, name = path.partition(":")
    parts = [*module.split("."), *name.split(".")]
    if not colon or not all(p.isidentifier() for p in parts):
        raise ValueError(
            f"{where}: expected 'module:function' (e.g. 'my_solver:solve'), got {path!r}"
        )


def resolve_callable(path: str, where: str) -> Callable[..., Any]:
    """Import ``"module:name"`` and return the object, with one-line errors.

    The current folder is searched too (as ``python script.py`` does), so a solver file
    next to the TOML file the user runs from is found.
    """
    check_callable_path(path, where)
    module_name, _, name = path.partition(":")
    if "" not in sys.path and module_name not in sys.modules:
        sys.path.append("")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(
            f"{where}: cannot import module {module_name!r} of {path!r} ({error}); run from "
            "its folder or put it on PYTHONPATH"
        ) from None
    for part in name.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ValueError(f"{where}: module {module_name!r} has no {name!r}") from None
    if not callable(target):
        raise ValueError(f"{where}: {path!r} is not callable ({type(target).__name__})")
    return target
