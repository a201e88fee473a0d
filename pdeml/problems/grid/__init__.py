"""A grid problem declared by its fields: your own PDE, with or without your own solver.

The built-in problems know their PDE. :class:`GridProblem` knows only what a user declares:
the names of the input and output fields, the spatial axes (names, lengths, periodic or
bounded), the points per axis, an optional time axis, and optionally two callables named by
their import path, ``"module:function"``:

* ``solver``: ``solve(inputs, resolution=None, **options) -> outputs`` for one sample
  (fields without the sample axis), the trusted classical solver of the user's PDE. With it,
  ``pdeml generate`` and the validation ladder work as for a built-in problem; without it the
  problem describes data that already exist (``from_arrays``, ``pdeml import``).
* ``sampler``: ``sample(rng, coords) -> inputs`` for one sample, or ``"grf"`` for pdeml's
  Gaussian random fields. Each sample gets its own generator from ``(seed, index)``, so a
  dataset is the same whatever the workers or the chunking.

Written in TOML like any preset (``problem = "grid"`` and a ``[parameters]`` table), or in
Python: ``GridProblem(inputs=["u0"], outputs=["u"], dims=["x", "y"], resolution=64)``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from pdeml._checks import (
    check_divides,
    grid_points,
    require_finite,
    require_int,
    require_positive,
)
from pdeml.problems.base import Problem, register_problem, sample_rng
from pdeml.problems.grid.callables import callable_path, check_callable_path

if TYPE_CHECKING:
    from pdeml.problems.grid.solver import CallableSolver

#: Parameters a grid problem cannot do without (the rest have defaults).
REQUIRED = {
    "inputs": 'the names of the input fields, e.g. inputs = ["u0"]',
    "outputs": 'the names of the output fields, e.g. outputs = ["u"]',
    "resolution": "the points per spatial axis of the stored grid, e.g. resolution = 64",
}
#: Name of the time axis of fields listed in ``time_fields``.
TIME_DIM = "t"
#: Input samplers built into pdeml (anything else is a ``"module:function"`` path).
BUILTIN_SAMPLERS = ("grf",)
#: A sampler ``"table:FILE.csv"`` reads the inputs of sample ``i`` from row ``i`` of the file.
TABLE_PREFIX = "table:"


def _as_tuple(value: Any) -> tuple:
    if isinstance(value, (list, tuple)):
        return tuple(value)
    return (value,)


@register_problem
@dataclasses.dataclass(frozen=True)
class GridProblem(Problem):
    """A problem on a uniform grid, declared by its fields (see the module docstring).

    Parameters
    ----------
    inputs, outputs : sequence of str
        Names of the input and output fields; each is a distinct identifier.
    resolution : int
        Points per spatial axis of the stored grid.
    dims : sequence of str
        Names of the spatial axes, in array order (1 to 3 of them; not ``"t"``).
    lengths : float or sequence of float
        Length of the domain along each axis, which starts at 0 (one number for every axis).
    periodic : bool or sequence of bool
        Per axis: periodic (points ``j L / r``, right end excluded) or bounded (``r`` points
        from 0 to ``L``, both ends). One value for every axis.
    solver_resolution : int
        Points per axis of the grid the solver runs on before striding to ``resolution``;
        0 (default) means ``resolution``. Grids that mix periodic and bounded axes are
        stored at the solver's grid.
    times : sequence of float
        Times of the snapshots of the fields in ``time_fields`` (their first axis, ``t``).
    time_fields : sequence of str
        Fields with a time axis before the spatial ones.
    scalar_fields : sequence of str
        Fields with no axis at all: one number per sample (a parameter such as a
        viscosity), e.g. the inputs of a ``"table:..."`` sampler.
    label : str
        Your name for the PDE, shown in messages and reports.
    solver : str or callable
        The reference solver, ``"module:function"`` or a module-level function (stored as
        its path); ``""`` for none.
    sampler : str or callable
        The input distribution: ``"grf"``, ``"table:FILE.csv"`` (row ``i`` of the CSV file,
        whose header names the inputs, is sample ``i``; every input a scalar field),
        ``"module:function"``, a module-level function, or ``""`` for none.
    grf_sigma, grf_tau, grf_gamma : float
        Covariance ``σ²(−Δ + τ²I)^(−γ)`` of the ``"grf"`` sampler (on the unit cube, scaled
        to the domain): periodic fields on periodic grids, zero-Neumann ones otherwise.
    grf_modes : int
        Random modes per direction of the ``"grf"`` sampler.
    time_limit : float
        Seconds one sample's solve may take (0: no limit); enforced with a timer signal
        where the solve runs in a process's main thread (generation workers, the CLI).
    """

    name = "grid"

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    # 0 stands for "not given" (a field without a default cannot shadow the base class's
    # ``resolution`` property), refused by validate with the required-key message.
    resolution: int = 0
    dims: tuple[str, ...] = ("x",)
    lengths: tuple[float, ...] = (1.0,)
    periodic: tuple[bool, ...] = (True,)
    solver_resolution: int = 0
    times: tuple[float, ...] = ()
    time_fields: tuple[str, ...] = ()
    scalar_fields: tuple[str, ...] = ()
    label: str = "grid"
    solver: str = ""
    sampler: str = ""
    grf_sigma: float = 1.0
    grf_tau: float = 3.0
    grf_gamma: float = 2.0
    grf_modes: int = 16
    time_limit: float = 0.0

    def __post_init__(self) -> None:
        # Normalise what Python and TOML users naturally write (lists, one number for all
        # axes, ints for floats, functions for paths) before the base class validates.
        set_ = object.__setattr__
        for name in ("inputs", "outputs", "dims", "times", "time_fields", "scalar_fields"):
            set_(self, name, _as_tuple(getattr(self, name)))
        dims = len(self.dims)
        for name in ("lengths", "periodic"):
            value = _as_tuple(getattr(self, name))
            set_(self, name, value * dims if len(value) == 1 else value)
        set_(self, "lengths", tuple(_number(self.label, "lengths", v) for v in self.lengths))
        set_(self, "times", tuple(_number(self.label, "times", v) for v in self.times))
        for name in ("solver", "sampler"):
            value = getattr(self, name)
            if callable(value):
                set_(self, name, callable_path(value, f"{self.label}: {name}"))
        if isinstance(self.solver_resolution, int) and self.solver_resolution == 0:
            set_(self, "solver_resolution", self.resolution)
        super().__post_init__()

    # -- checks ------------------------------------------------------------------------
    def validate(self) -> None:
        owner = self.label if isinstance(self.label, str) and self.label else self.name
        if not isinstance(self.label, str) or not self.label.strip():
            raise ValueError(f"{self.name}: label must be a non-empty string, got {self.label!r}")
        self._check_names(owner)
        if isinstance(self.resolution, int) and self.resolution == 0:
            raise ValueError(f"{owner}: missing parameter 'resolution' ({REQUIRED['resolution']})")
        dims = len(self.dims)
        if len(self.lengths) != dims:
            raise ValueError(
                f"{owner}: lengths has {len(self.lengths)} values for {dims} axes {self.dims}"
            )
        for length in self.lengths:
            require_positive(owner, "lengths", length)
        if len(self.periodic) != dims or not all(isinstance(p, bool) for p in self.periodic):
            raise ValueError(
                f"{owner}: periodic must be true/false for each of the {dims} axes "
                f"{list(self.dims)}, got {list(self.periodic)}"
            )
        grid_points(owner, "resolution", self.resolution, 2, dims=dims)
        grid_points(owner, "solver_resolution", self.solver_resolution, 2, dims=dims)
        if self.solver_resolution != self.resolution:
            if len(set(self.periodic)) > 1:
                raise ValueError(
                    f"{owner}: solver_resolution must equal resolution on a grid mixing "
                    "periodic and bounded axes (no stride takes one such grid onto another)"
                )
            if self.grid_includes_right_end():
                self.restriction_stride(self.solver_resolution, self.resolution)
            else:
                check_divides(owner, self.resolution, self.solver_resolution)
        self._check_time(owner)
        for name in ("solver", "sampler"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise ValueError(
                    f"{owner}: {name} must be 'module:function' or a function, got {value!r}"
                )
            if name == "sampler" and value.startswith(TABLE_PREFIX):
                self._check_table(owner)
            elif value and not (name == "sampler" and value in BUILTIN_SAMPLERS):
                check_callable_path(value, f"{owner}: {name}")
        for name in ("grf_sigma", "grf_gamma"):
            require_positive(owner, name, getattr(self, name))
        require_positive(owner, "grf_tau", self.grf_tau, allow_zero=True)
        require_int(owner, "grf_modes", self.grf_modes, 2, 4096)
        require_positive(owner, "time_limit", self.time_limit, allow_zero=True)
        if self.sampler == "grf":
            if dims > 2:
                raise ValueError(f"{owner}: sampler 'grf' draws 1D or 2D fields, not {dims}D")
            timed = [f for f in self.inputs if f in self.time_fields or f in self.scalar_fields]
            if timed:
                raise ValueError(
                    f"{owner}: sampler 'grf' draws fields on the grid, without a time axis; "
                    f"inputs {timed} are in time_fields or scalar_fields (use a table or "
                    "write a sampler function for them)"
                )

    def _check_names(self, owner: str) -> None:
        for role in ("inputs", "outputs", "dims"):
            names = getattr(self, role)
            if not names:
                raise ValueError(f"{owner}: {role} must name at least one field or axis")
            for value in names:
                if not isinstance(value, str) or not value.isidentifier():
                    raise ValueError(
                        f"{owner}: {role} must hold names (letters, digits, _), got {value!r}"
                    )
            if len(set(names)) != len(names):
                raise ValueError(f"{owner}: {role} repeats a name: {list(names)}")
        if len(self.dims) > 3:
            raise ValueError(f"{owner}: dims: at most 3 spatial axes, got {list(self.dims)}")
        both = sorted(set(self.inputs) & set(self.outputs))
        if both:
            raise ValueError(f"{owner}: {both} listed both in inputs and in outputs")
        clash = sorted((set(self.inputs) | set(self.outputs)) & {*self.dims, TIME_DIM})
        if clash or TIME_DIM in self.dims:
            raise ValueError(
                f"{owner}: {clash or [TIME_DIM]}: field and axis names must differ, and "
                f"{TIME_DIM!r} is the time axis"
            )

    def _check_table(self, owner: str) -> None:
        path = self.sampler[len(TABLE_PREFIX) :]
        if not path.endswith(".csv"):
            raise ValueError(f"{owner}: sampler: expected 'table:FILE.csv', got {self.sampler!r}")
        grid_inputs = [f for f in self.inputs if f not in self.scalar_fields]
        if grid_inputs:
            raise ValueError(
                f"{owner}: sampler 'table:...' gives one number per input and sample; inputs "
                f"{grid_inputs} are not in scalar_fields"
            )

    def _check_time(self, owner: str) -> None:
        unknown = [f for f in self.time_fields if f not in self.field_names]
        if unknown:
            raise ValueError(
                f"{owner}: time_fields names {unknown}, which are not fields; expected "
                f"some of {list(self.field_names)}"
            )
        unknown = [f for f in self.scalar_fields if f not in self.field_names]
        both = [f for f in self.scalar_fields if f in self.time_fields]
        if unknown or both:
            raise ValueError(
                f"{owner}: scalar_fields names {unknown or both}, which "
                + ("are not fields" if unknown else "are in time_fields too")
            )
        if self.time_fields and not self.times:
            raise ValueError(
                f"{owner}: time_fields {list(self.time_fields)} have a time axis, so times "
                "must list its snapshot times"
            )
        for t in self.times:
            require_finite(owner, "times", t)
        if any(b <= a for a, b in zip(self.times, self.times[1:], strict=False)):
            raise ValueError(f"{owner}: times must increase, got {list(self.times)}")

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any]) -> Problem:
        """Build from a parameter mapping; a missing required key gets a line naming it."""
        if isinstance(parameters, Mapping):
            for key, meaning in REQUIRED.items():
                if key not in parameters:
                    raise ValueError(f"{cls.name}: missing parameter {key!r} ({meaning})")
        return super().from_parameters(parameters)

    # -- fields and grid ---------------------------------------------------------------
    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(self.inputs)

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(self.outputs)

    def field_dims(self, name: str) -> tuple[str, ...]:
        if name not in self.field_names:
            raise ValueError(f"{self.label}: unknown field {name!r}; expected {self.field_names}")
        if name in self.scalar_fields:
            return ()
        return ((TIME_DIM,) if name in self.time_fields else ()) + tuple(self.dims)

    def infer_resolution(self, inputs: Mapping[str, np.ndarray]) -> int:
        """From the first input on the grid; inputs that are all scalars carry no grid, and
        are solved on ``solver_resolution`` (so a reference ladder cannot vary it)."""
        on_grid = [f for f in self.input_names if f not in self.scalar_fields]
        if not on_grid:
            return self.solver_resolution
        return self.grid_length(on_grid[0], inputs)

    def spatial_dims(self) -> tuple[str, ...]:
        return tuple(self.dims)

    def grid_includes_right_end(self) -> bool:
        """True when any axis is bounded: surrogates then pad, metrics take no FFTs."""
        return not all(self.periodic)

    def coords(self, resolution: int | None = None) -> dict[str, np.ndarray]:
        r = self.resolution if resolution is None else resolution
        out = {
            dim: np.arange(r) * (length / r) if periodic else np.linspace(0.0, length, r)
            for dim, length, periodic in zip(self.dims, self.lengths, self.periodic, strict=True)
        }
        if self.time_fields:
            out[TIME_DIM] = np.asarray(self.times, dtype=float)
        return out

    def sample_nbytes(self, resolution: int | None = None) -> float:
        """Every field in float64, four times over (the solver's own copies unknown)."""
        r = self.solver_resolution if resolution is None else resolution
        values = sum(
            math.prod(len(self.times) if d == TIME_DIM else r for d in self.field_dims(name))
            for name in self.field_names
        )
        return 32.0 * values

    @property
    def title(self) -> str:
        return self.label

    def worker_modules(self) -> tuple[str, ...]:
        """The modules of the problem class and of the solver and sampler functions."""
        paths = [
            p
            for p in (self.solver, self.sampler)
            if p and p not in BUILTIN_SAMPLERS and not p.startswith(TABLE_PREFIX)
        ]
        return (type(self).__module__, *(p.partition(":")[0] for p in paths))

    # -- drawing and solving -----------------------------------------------------------
    def sample_inputs(
        self, n: int, seed: int, *, start: int = 0, resolution: int | None = None
    ) -> dict[str, np.ndarray]:
        """Draw ``n`` inputs with the declared sampler (see :class:`GridProblem`)."""
        self.check_sampling()
        n, resolution = self.check_draw(n, resolution, dims=len(self.dims), minimum=2)
        from pdeml.problems.grid.sampling import draw_grf, draw_table, draw_with

        if self.sampler.startswith(TABLE_PREFIX):
            return draw_table(self, n, start)  # the rows are the samples: no randomness
        rngs = [sample_rng(seed, start + i) for i in range(n)]
        if self.sampler == "grf":
            return draw_grf(self, rngs, resolution)
        return draw_with(self, rngs, resolution, start)

    def check_sampling(self) -> None:
        """A problem without a sampler cannot draw inputs: say how to give it one."""
        if not self.sampler:
            raise ValueError(
                f"{self.label}: no input sampler declared; set sampler = 'grf' or "
                "'module:function' to draw inputs, or bring your data with "
                "pdeml.from_arrays / pdeml import"
            )

    def reference_solver(self, **options: Any) -> CallableSolver:
        """The user's solver function, called once per sample with ``options``."""
        if not self.solver:
            raise ValueError(
                f"{self.label}: no reference solver declared (a problem for data you already "
                "have); set solver = 'module:function' to wrap your own"
            )
        from pdeml.problems.grid.solver import CallableSolver

        return CallableSolver(self, **options)


def _number(owner: str, field: str, value: Any) -> Any:
    """``value`` as a float when it is a real number (bools and others left for validate)."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return float(value)
    raise ValueError(f"{owner}: {field} must hold numbers, got {value!r}")
