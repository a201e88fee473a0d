"""The ``Problem`` contract: the mathematics of one parametric PDE, kept apart from solvers.

A problem is a frozen dataclass of physical and discretisation parameters. It declares its
named input and output fields (shapes, dimensions and coordinates on its grid), draws inputs
from its input distribution, and names the trusted classical solver for itself. It never
solves anything on its own: that is the job of a :class:`pdeml.solvers.base.Solver`.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from pdeml._checks import check_count, check_memory, grid_points
from pdeml.problems.field_checks import check_fields
from pdeml.registry import Registry

if TYPE_CHECKING:
    from pdeml.problems.residual import PDEResidual
    from pdeml.solvers.base import Solver

#: Declared fields of a problem: name -> dimension names without the sample axis.
Fields = dict[str, tuple[str, ...]]

_REGISTRY: Registry[type[Problem]] = Registry("problem", builtins="pdeml.problems")


def register_problem(cls: type[Problem]) -> type[Problem]:
    """Class decorator: make a problem known by its ``name`` to presets and datasets."""
    return _REGISTRY.register(cls)


def problem_class(name: str) -> type[Problem]:
    """Return the registered problem class called ``name``.

    Raises
    ------
    ValueError
        If no problem of that name is registered; the message lists the known names.
    """
    return _REGISTRY.get(name)


def available_problems() -> list[str]:
    """Names of all registered problems, sorted."""
    return _REGISTRY.names()


def sample_rng(seed: int, index: int) -> np.random.Generator:
    """Random generator for sample ``index`` of a draw seeded with ``seed``.

    Every sample has its own stream, so a sample's value depends only on ``(seed, index)``:
    the same dataset comes out whatever the number of workers or the chunking.
    """
    return np.random.default_rng(np.random.SeedSequence(entropy=int(seed), spawn_key=(int(index),)))


def make_solver(problem: Problem, solver_class: type, options: Mapping[str, Any]) -> Any:
    """Build ``solver_class(problem, **options)``, refusing unknown option names clearly.

    Without this an unknown option surfaces as Python's ``unexpected keyword argument``,
    which names neither the solver nor the options it does take.
    """
    parameters = inspect.signature(solver_class).parameters
    allowed = [
        name
        for name, p in parameters.items()
        if name != "problem" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    unknown = sorted(str(k) for k in options if k not in allowed)
    if unknown:
        choices = ", ".join(allowed) if allowed else "none"
        raise ValueError(
            f"{problem.name}: unknown reference solver option(s) {unknown} for "
            f"{getattr(solver_class, 'name', solver_class.__name__)}; allowed options: {choices}"
        )
    return solver_class(problem, **options)


@dataclasses.dataclass(frozen=True)
class Problem:
    """Base class of every PDE problem.

    Subclasses are frozen dataclasses decorated with :func:`register_problem`. They set
    the class attribute ``name`` and implement the abstract methods below. Field values
    are validated on construction (``__post_init__`` calls :meth:`validate`), so a bad
    parameter fails at once with a ``ValueError`` that names the field.

    Conventions: every field is a ``numpy`` array with the sample axis first, then time
    (for trajectories), then space. Grids are described by :meth:`coords`.
    """

    name: ClassVar[str] = ""
    #: Fewest grid points per direction that the problem (and its solver) accepts.
    MIN_RESOLUTION: ClassVar[int] = 2

    def __post_init__(self) -> None:
        # Presets come from TOML, where 1 and 1.0 differ; coerce declared floats so that
        # to_dict/from_dict round-trips are exact and equality is by value.
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.type in ("float", float) and isinstance(value, (int, np.integer)):
                if not isinstance(value, bool):
                    try:
                        value = float(value)
                    except OverflowError:  # an int beyond 1.8e308 has no float
                        raise ValueError(
                            f"{self.name}: {field.name} must be a finite number, got {value!r}"
                        ) from None
                    object.__setattr__(self, field.name, value)
            if field.type in ("int", int) and isinstance(value, float) and value.is_integer():
                object.__setattr__(self, field.name, int(value))
        self.validate()

    @property
    def title(self) -> str:
        """The problem's name in messages and reports (a user's own problem names its PDE)."""
        return self.name

    def worker_modules(self) -> tuple[str, ...]:
        """Modules a worker process imports before it rebuilds this problem from its dict.

        The module of the problem's class, so that a class from the user's own package is
        registered there; problems that call user functions add those functions' modules.
        """
        return (type(self).__module__,)

    def check_sampling(self) -> None:
        """Raise ``ValueError`` (one line) if :meth:`sample_inputs` cannot work at all.

        Called before a generation starts, so that a problem without an input
        distribution fails before any file or worker exists. Built-in problems always
        can; a declared grid problem without a sampler cannot.
        """

    # -- to be provided by each problem -------------------------------------------------
    def validate(self) -> None:
        """Check the parameters; raise ``ValueError`` naming the first bad field."""

    #: The fields, name -> dimension names without the sample axis, in order; the three
    #: members below read them (a problem may override those instead).
    INPUTS: ClassVar[Fields] = {}
    OUTPUTS: ClassVar[Fields] = {}
    #: Whether ``sample_inputs`` draws at random (False: one fixed instance, seed unused).
    RANDOM_INPUTS: ClassVar[bool] = True

    @property
    def input_names(self) -> tuple[str, ...]:
        """Names of the input fields, in order."""
        return tuple(self.INPUTS)

    @property
    def output_names(self) -> tuple[str, ...]:
        """Names of the output fields, in order."""
        return tuple(self.OUTPUTS)

    def field_dims(self, name: str) -> tuple[str, ...]:
        """Dimension names of field ``name`` without the sample axis, e.g. ``("x", "y")``."""
        if name not in self.field_names:
            raise ValueError(f"{self.name}: unknown field {name!r}; expected {self.field_names}")
        return {**self.INPUTS, **self.OUTPUTS}[name]

    def coords(self, resolution: int | None = None) -> dict[str, np.ndarray]:
        """Coordinates of every dimension used by the fields at ``resolution``."""
        raise NotImplementedError

    def output_mask(self, name: str, inputs: Mapping[str, np.ndarray]) -> np.ndarray | None:
        """Which values of output ``name`` are real, for a batch of ``inputs``.

        ``None`` (the default) means every value counts. Problems with padded layouts
        (meshes of different sizes) return a boolean array shaped like the output, sample
        axis first, so that metrics skip the padding.
        """
        return None

    def min_resolution(self) -> int:
        """Fewest grid points per direction of inputs the problem accepts."""
        return self.MIN_RESOLUTION

    def parameters_from_shapes(self, fields: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """Parameters that the arrays' time axes fix, for reading foreign files.

        ``fields`` maps field names to arrays with the sample axis first (some may be
        missing). The default is none; a problem whose number of stored times is a
        parameter (Burgers ``n_t``, Navier–Stokes ``t_in`` and ``T``) reads it here, so
        that importers need not know any problem by name.
        """
        return {}

    def sample_nbytes(self, resolution: int | None = None) -> float:
        """Estimated peak bytes to draw and solve one sample on the grid of ``resolution``.

        Used to refuse sizes that cannot fit in memory before allocating anything; a rough
        (generous) estimate is enough. The default 0 means no estimate.
        """
        return 0.0

    def check_draw(self, n: Any, resolution: Any, dims: int, minimum: int) -> tuple[int, int]:
        """Validate ``n`` and a ``resolution`` argument of a draw; return them as ints.

        ``resolution=None`` means the problem's ``resolution``. The draw's memory, ``n``
        times :meth:`sample_nbytes`, must fit in the available memory.
        """
        n = check_count(n)
        resolution = self.resolution if resolution is None else resolution
        resolution = grid_points(self.name, "resolution", resolution, minimum, dims)
        check_memory(
            self.name,
            f"a draw of n = {n} samples at resolution {resolution}",
            n * self.sample_nbytes(resolution),
            "draw fewer samples at once or use a coarser resolution",
        )
        return n, resolution

    def check_solver_memory(self, fields: str) -> None:
        """Refuse parameters whose single sample would not fit in memory (see validate)."""
        check_memory(
            self.name,
            f"one sample with {fields}",
            self.sample_nbytes(self.solver_resolution),
            "reduce these sizes",
        )

    def allowed_resolutions(self) -> tuple[int, ...] | None:
        """Resolutions the data may be stored at (``None``: any that :meth:`validate` allows)."""
        return None

    def sample_inputs(
        self, n: int, seed: int, *, start: int = 0, resolution: int | None = None
    ) -> dict[str, np.ndarray]:
        """Draw ``n`` input instances, samples ``start .. start + n - 1`` of stream ``seed``.

        Parameters
        ----------
        n : int
            Number of samples.
        seed : int
            Seed of the whole draw; sample ``i`` depends only on ``(seed, i)``.
        start : int, optional
            Index of the first sample, so that a large draw can be made in pieces.
        resolution : int, optional
            Grid to return the inputs on; by default the problem's ``resolution``.

        Notes
        -----
        A reference solver solves on the grid of the inputs it is given. Datasets are made
        by drawing at ``solver_resolution``, solving there and striding to ``resolution``
        (:func:`pdeml.generate` does this); solving inputs drawn at ``resolution`` gives the
        cheaper, less accurate coarse-grid solution.
        """
        raise NotImplementedError

    def reference_solver(self, **options: Any) -> Solver:
        """The trusted classical solver for this problem, configured by ``options``."""
        raise NotImplementedError

    def physics(self, inputs: Mapping[str, Any]) -> PDEResidual:
        """The PDE residual of this problem for one input instance, in torch.

        Parameters
        ----------
        inputs : dict
            One sample's inputs, ``name -> array`` without the sample axis (a leading
            axis of length 1 is accepted).

        Returns
        -------
        pdeml.problems.residual.PDEResidual
            Domain, residual, boundary and initial mismatch, collocation sampling.

        Raises
        ------
        NotImplementedError
            If the problem has no PDE residual (the default).
        """
        raise NotImplementedError(
            f"problem {self.name!r} has no PDE residual; physics-informed surrogates "
            "cannot serve it"
        )

    def error_indicator(self, inputs: Any, outputs: Any, **options: Any) -> np.ndarray:
        """``[n]`` estimated relative L2 errors of predicted ``outputs``, no reference solve.

        ``NotImplementedError`` if the problem has none (the default); see ``<pde>/indicator.py``.
        """
        raise NotImplementedError(
            f"problem {self.title!r} has no a-posteriori error indicator; give pdeml.guard "
            "your own: indicator=f with f(inputs, outputs) -> one estimate per sample"
        )

    def warm_start(self, inputs: Any, initial: Any = None, **options: Any) -> tuple[dict, Any]:
        """The reference solve from ``initial`` outputs (None: cold): ``(outputs, iterations)``.

        ``options``: the reference solver's. ``NotImplementedError`` if it has no iteration.
        """
        raise NotImplementedError(
            f"problem {self.title!r}: its reference solver has no iteration to warm-start"
        )

    # -- derived behaviour shared by all problems --------------------------------------
    @property
    def resolution(self) -> int:  # pragma: no cover - every problem defines the field
        raise NotImplementedError

    @property
    def solver_resolution(self) -> int:  # pragma: no cover - every problem defines the field
        raise NotImplementedError

    @property
    def field_names(self) -> tuple[str, ...]:
        """Input names followed by output names."""
        return self.input_names + self.output_names

    def field_shape(self, name: str, resolution: int | None = None) -> tuple[int, ...]:
        """Shape of one sample of field ``name`` (no sample axis) at ``resolution``."""
        coords = self.coords(resolution)
        return tuple(len(coords[d]) for d in self.field_dims(name))

    def restrict(
        self, fields: Mapping[str, np.ndarray], from_resolution: int, to_resolution: int
    ) -> dict[str, np.ndarray]:
        """Subsample fields on the ``from_resolution`` grid onto ``to_resolution`` by striding.

        Striding (no averaging) keeps the stored values exact samples of the fine
        solution, as in the FNO paper's data.
        """
        if from_resolution == to_resolution:
            return {k: np.asarray(v) for k, v in fields.items()}
        stride = self.restriction_stride(from_resolution, to_resolution)
        spatial = set(self.spatial_dims())
        out = {}
        for key, value in fields.items():
            index: list[slice] = [slice(None)]  # sample axis
            for dim in self.field_dims(key):
                index.append(slice(None, None, stride) if dim in spatial else slice(None))
            out[key] = np.ascontiguousarray(np.asarray(value)[tuple(index)])
        return out

    def restriction_stride(self, from_resolution: int, to_resolution: int) -> int:
        """Stride that takes the ``from_resolution`` grid onto ``to_resolution``.

        Periodic grids (right end excluded) need ``from % to == 0``; grids with both ends
        need ``(from - 1) % (to - 1) == 0``.
        """
        if self.grid_includes_right_end():
            ok = to_resolution > 1 and (from_resolution - 1) % (to_resolution - 1) == 0
            stride = (from_resolution - 1) // max(to_resolution - 1, 1)
            rule = "(solver_resolution - 1) divisible by (resolution - 1)"
        else:
            ok = from_resolution % to_resolution == 0
            stride = from_resolution // to_resolution
            rule = "solver_resolution divisible by resolution"
        if not ok or to_resolution > from_resolution:
            raise ValueError(
                f"resolution {to_resolution} cannot be taken from a grid of {from_resolution} "
                f"points by striding; expected {rule}"
            )
        return stride

    def spatial_dims(self) -> tuple[str, ...]:
        """Names of the spatial dimensions (restricted when the resolution changes)."""
        return ("x",)

    def grid_includes_right_end(self) -> bool:
        """True for grids holding both ends of each interval (Dirichlet), False if periodic."""
        return False

    def infer_resolution(self, inputs: Mapping[str, np.ndarray]) -> int:
        """Resolution of a batch of inputs, read from the length of its first spatial axis."""
        return self.grid_length(self.input_names[0], inputs)

    def grid_length(self, name: str, inputs: Mapping[str, np.ndarray]) -> int:
        """Points along the first spatial axis of input ``name`` in a batch of ``inputs``."""
        if name not in inputs:
            raise ValueError(f"inputs: missing field {name!r}; expected {list(self.input_names)}")
        array = np.asarray(inputs[name])
        dims = self.field_dims(name)
        axis = 1 + dims.index(self.spatial_dims()[0])
        if array.ndim <= axis:
            raise ValueError(
                f"inputs[{name!r}]: expected {1 + len(dims)} axes (sample, {', '.join(dims)}), "
                f"got shape {array.shape}"
            )
        return int(array.shape[axis])

    def check_inputs(
        self, inputs: Mapping[str, np.ndarray], resolution: int | None = None
    ) -> dict[str, np.ndarray]:
        """Validate a batch of inputs and return them as float64 arrays.

        Checks that ``inputs`` is a mapping holding exactly the problem's input names,
        that each array has the sample axis plus the declared shape at ``resolution``
        (inferred from the data when not given), the same number of samples, and only
        finite values.
        """
        return self._check_fields(inputs, self.input_names, "inputs", resolution)

    def check_outputs(
        self, outputs: Mapping[str, np.ndarray], resolution: int | None = None
    ) -> dict[str, np.ndarray]:
        """Validate a batch of outputs like :meth:`check_inputs` does for inputs."""
        return self._check_fields(outputs, self.output_names, "outputs", resolution)

    def _check_fields(
        self,
        fields: Mapping[str, np.ndarray],
        names: tuple[str, ...],
        what: str,
        resolution: int | None,
    ) -> dict[str, np.ndarray]:
        return check_fields(self, fields, names, what, resolution)

    # -- serialisation ------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON/TOML friendly) of the problem: ``{"problem": name, **fields}``."""
        data: dict[str, Any] = {"problem": self.name}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, tuple):
                value = list(value)
            data[field.name] = value
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Problem:
        """Rebuild a problem from :meth:`to_dict` output (dispatches on ``data["problem"]``).

        Raises
        ------
        ValueError
            If ``data`` is not a mapping, lacks ``"problem"``, names an unknown problem, or
            holds unknown or invalid fields; the message says the dict is damaged and
            names the key (callers add the file it came from).
        """
        damaged = "problem dict is damaged"
        if not isinstance(data, Mapping):
            raise ValueError(
                f"{damaged}: expected a mapping of parameter name to value, "
                f"got {type(data).__name__}"
            )
        data = dict(data)
        name = data.pop("problem", cls.name or None)
        if name is None:
            raise ValueError(
                f"{damaged}: missing key 'problem' naming the problem "
                f"(one of {', '.join(available_problems())})"
            )
        if not isinstance(name, str):
            raise ValueError(f"{damaged}: key 'problem' must be a string, got {name!r}")
        bad_keys = [k for k in data if not isinstance(k, str)]
        if bad_keys:
            raise ValueError(f"{damaged}: keys must be strings, got {bad_keys!r}")
        try:
            target = problem_class(name)
            return target.from_parameters(data)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{damaged}: {error}") from None

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any]) -> Problem:
        """Build from a parameter mapping, rejecting unknown keys with a clear message."""
        if not isinstance(parameters, Mapping):
            raise TypeError(
                f"{cls.name}: parameters must be a mapping of name to value, "
                f"got {type(parameters).__name__}"
            )
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = [k for k in parameters if k not in known]
        if unknown:
            raise ValueError(
                f"{cls.name}: unknown parameter(s) {unknown}; expected some of {sorted(known)}"
            )
        values = {}
        for key, value in parameters.items():
            if isinstance(value, list):
                value = tuple(value)
            values[key] = value
        try:
            return cls(**values)
        except TypeError as error:  # wrong type for a field that the dataclass cannot coerce
            raise ValueError(f"{cls.name}: {error}") from None

    def replace(self, **changes: Any) -> Problem:
        """A copy with some parameters changed (validated like a new problem)."""
        return type(self).from_parameters({**self.to_dict_fields(), **changes})

    def to_dict_fields(self) -> dict[str, Any]:
        """The dataclass fields only (no ``"problem"`` key)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
