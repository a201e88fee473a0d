"""One registry kind for everything pdeml constructs by a short name.

Problems, surrogates and closures are each looked up by name from presets, suites, the
command line and saved files. They share this class, so every lookup fails the same way
(a ``ValueError`` that lists the known names) and every kind registers the same way (a
class decorator reading the class attribute ``name``).
"""

from __future__ import annotations

import importlib
from typing import Generic, TypeVar

T = TypeVar("T", bound=type)


class Registry(Generic[T]):
    """Classes of one kind, by their ``name`` attribute.

    Parameters
    ----------
    kind : str
        What the classes are (``"problem"``, ``"surrogate"``, ...), used in messages.
    builtins : str
        Module whose import registers the built-in classes; imported on the first
        look-up, so that registering stays lazy and free of import circles.

    Examples
    --------
    >>> shapes = Registry("shape", builtins="pdeml.registry")
    >>> @shapes.register
    ... class Square:
    ...     name = "square"
    >>> shapes.get("square").__name__
    'Square'
    >>> shapes.names()
    ['square']
    """

    def __init__(self, kind: str, builtins: str) -> None:
        self.kind = kind
        self.builtins = builtins
        self._classes: dict[str, T] = {}

    def register(self, cls: T) -> T:
        """Class decorator: make ``cls`` known by its class attribute ``name``."""
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name:
            raise TypeError(
                f"{cls.__name__} must set a class attribute 'name' (a non-empty string) "
                f"to be registered as a {self.kind}"
            )
        self._classes[name] = cls
        return cls

    def _load_builtins(self) -> None:
        importlib.import_module(self.builtins)

    def names(self) -> list[str]:
        """Registered names, sorted."""
        self._load_builtins()
        return sorted(self._classes)

    def get(self, name: str) -> T:
        """The class registered as ``name``.

        Raises
        ------
        ValueError
            If no class of that name is registered; the message lists the known names.
        """
        self._load_builtins()
        try:
            return self._classes[name]
        except (KeyError, TypeError):
            known = ", ".join(sorted(self._classes))
            raise ValueError(f"unknown {self.kind} {name!r}; expected one of: {known}") from None
