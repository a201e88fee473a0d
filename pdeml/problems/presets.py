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


#: Top-level keys a preset file may hold.
PRESET_KEYS = ("problem", "parameters", "sizes")
#: Keys of a size's ``generate`` table (defaults of ``pdeml generate``).
GENERATE_KEYS = ("n", "seed")


@dataclasses.dataclass(frozen=True)
class Preset:
    """A parsed preset: the problem name, shared parameters and per-size overrides."""

    source: str
    problem: str
    parameters: dict[str, Any]
    sizes: dict[str, dict[str, Any]]

    def size(self, size: str) -> dict[str, Any]:
        """The overrides of one size (a ``ValueError`` lists the sizes if it is unknown)."""
        if not isinstance(size, str) or size not in self.sizes:
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


def _read_text(path: Path, label: str) -> str:
    """The file's text, with messages naming the file for the ways reading it can fail."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ValueError(
            f"{label}: cannot read the preset file ({error.strerror or error})"
        ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(
            f"{label}: not a text file (not UTF-8); expected a TOML preset file"
        ) from None


def _check_generate(label: str, size: str, table: Any) -> None:
    where = f"{label}: [sizes.{size}] key 'generate'"
    if not isinstance(table, dict):
        raise ValueError(f"{where} must be a table such as {{ n = 64, seed = 0 }}, got {table!r}")
    unknown = sorted(k for k in table if k not in GENERATE_KEYS)
    if unknown:
        raise ValueError(
            f"{where}: unknown key(s) {unknown}; expected some of {list(GENERATE_KEYS)}"
        )
    for key in GENERATE_KEYS:
        value = table.get(key)
        minimum = 1 if key == "n" else 0
        if key in table and (
            isinstance(value, bool) or not isinstance(value, int) or value < minimum
        ):
            raise ValueError(f"{where}: {key} must be an integer >= {minimum}, got {value!r}")


def read_preset(source: str | Path) -> Preset:
    """Parse a preset file, or a built-in preset given by name.

    Raises
    ------
    FileNotFoundError
        If ``source`` is neither an existing file nor a built-in preset name.
    ValueError
        If the file is a directory, unreadable, not text, not valid TOML, or its content
        does not have the preset layout (unknown keys, tables that are not tables, an
        unknown problem); the message names the file and the key.
    """
    if not isinstance(source, (str, Path)):
        raise TypeError(f"preset: expected a file path or a preset name, got {source!r}")
    path = Path(source)
    if path.is_dir():
        raise ValueError(f"problem preset {str(source)!r}: is a directory; expected a TOML file")
    if path.is_file():
        label = str(path)
        text = _read_text(path, label)
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
    unknown = sorted(k for k in data if k not in PRESET_KEYS)
    if unknown:
        raise ValueError(
            f"{label}: unknown top-level key(s) {unknown}; expected some of {list(PRESET_KEYS)}"
        )
    if "problem" not in data or not isinstance(data["problem"], str):
        raise ValueError(f'{label}: expected a top-level key problem = "<name>"')
    try:
        cls = problem_class(data["problem"])
    except ValueError as error:
        raise ValueError(f"{label}: key 'problem': {error}") from None
    parameters = data.get("parameters", {})
    if not isinstance(parameters, dict):
        raise ValueError(
            f"{label}: key 'parameters' must be a table ([parameters]), got {parameters!r}"
        )
    sizes = data.get("sizes", {})
    if not isinstance(sizes, dict):
        raise ValueError(f"{label}: key 'sizes' must hold tables [sizes.<name>], got {sizes!r}")
    fields = {f.name for f in dataclasses.fields(cls)}
    for where, table in [("[parameters]", parameters)] + [
        (f"[sizes.{name}]", value) for name, value in sizes.items()
    ]:
        if not isinstance(table, dict):
            raise ValueError(f"{label}: {where} must be a table, got {table!r}")
        allowed = fields | ({"generate"} if where != "[parameters]" else set())
        unknown = sorted(k for k in table if k not in allowed)
        if unknown:
            raise ValueError(
                f"{label}: {where}: unknown key(s) {unknown} for problem {cls.name!r}; "
                f"expected some of {sorted(allowed)}"
            )
    for name, table in sizes.items():
        if "generate" in table:
            _check_generate(label, name, table["generate"])
    return Preset(label, data["problem"], dict(parameters), sizes)


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
    parameters = preset.problem_parameters(size)
    try:
        return cls.from_parameters({**parameters, **overrides})
    except (TypeError, ValueError) as error:
        # Name the file: the bad value may come from it rather than from the overrides.
        raise type(error)(f"{preset.source} (size {size!r}): {error}") from None
