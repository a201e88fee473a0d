"""Reading TOML presets: a problem, its parameters, and named sizes (``quick``, ``paper``).

A preset file looks like::

    problem = "darcy"
    [parameters]            # shared by every size
    a_plus = 12.0
    [sizes.quick]           # overrides for one size
    resolution = 29
    generate = { n = 64, seed = 0 }   # defaults for `pdeml generate`

``source`` may be a path to such a file or the bare name of a built-in preset
(``"darcy"``, ``"burgers"``, ...).
"""

from __future__ import annotations

import dataclasses
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from pdeml.problems.base import Problem, problem_class

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib


@dataclasses.dataclass(frozen=True)
class Preset:
    """A parsed preset: the problem name, shared parameters and per-size overrides."""

    source: str
    problem: str
    parameters: dict[str, Any]
    sizes: dict[str, dict[str, Any]]

    def size(self, size: str) -> dict[str, Any]:
        """The overrides of one size (a ``ValueError`` lists the sizes if it is unknown)."""
        if size not in self.sizes:
            raise ValueError(
                f"{self.source}: unknown size {size!r}; expected one of {sorted(self.sizes)}"
            )
        return dict(self.sizes[size])

    def problem_parameters(self, size: str) -> dict[str, Any]:
        """Shared parameters updated with the size's problem parameters."""
        overrides = self.size(size)
        overrides.pop("generate", None)
        return {**self.parameters, **overrides}

    def generate_defaults(self, size: str) -> dict[str, Any]:
        """Defaults for generation at this size (``n``, ``seed``)."""
        return dict(self.size(size).get("generate", {}))


def builtin_presets() -> list[str]:
    """Names of the presets shipped with pdeml."""
    folder = resources.files("pdeml.presets")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def read_preset(source: str | Path) -> Preset:
    """Parse a preset file, or a built-in preset given by name.

    Raises
    ------
    FileNotFoundError
        If ``source`` is neither an existing file nor a built-in preset name.
    ValueError
        If the file is not valid TOML or lacks the ``problem`` key.
    """
    path = Path(source)
    if path.is_file():
        text, label = path.read_text(encoding="utf-8"), str(path)
    elif str(source) in builtin_presets():
        label = f"preset {source!r}"
        text = resources.files("pdeml.presets").joinpath(f"{source}.toml").read_text("utf-8")
    else:
        raise FileNotFoundError(
            f"problem preset {str(source)!r}: no such file, and not a built-in preset "
            f"(built-in: {', '.join(builtin_presets())})"
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{label}: not valid TOML ({error})") from None
    if "problem" not in data or not isinstance(data["problem"], str):
        raise ValueError(f'{label}: expected a top-level key problem = "<name>"')
    sizes = data.get("sizes", {})
    if not isinstance(sizes, dict) or not all(isinstance(v, dict) for v in sizes.values()):
        raise ValueError(f"{label}: [sizes.<name>] must be tables")
    return Preset(label, data["problem"], dict(data.get("parameters", {})), sizes)


def load_problem(source: str | Path, size: str = "quick", **overrides: Any) -> Problem:
    """Build a problem from a preset file or a built-in preset name.

    Parameters
    ----------
    source : str or Path
        A TOML preset file, or a built-in preset name such as ``"darcy"``.
    size : str
        Which size of the preset to use (``"quick"`` or ``"paper"`` for built-ins).
    **overrides
        Problem parameters that replace the preset's values (e.g. ``resolution=141``).

    Examples
    --------
    >>> import pdeml
    >>> problem = pdeml.load_problem("darcy", size="quick")
    >>> problem.resolution
    29
    """
    preset = read_preset(source)
    cls = problem_class(preset.problem)
    return cls.from_parameters({**preset.problem_parameters(size), **overrides})
