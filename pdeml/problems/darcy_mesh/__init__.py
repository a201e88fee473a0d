"""Darcy flow on random star-shaped domains, each sample meshed on its own.

    −∇·(a∇u) = f  in Ω,    u = g on Γ_D = ∂Ω ∩ {x ≤ 0},    a∇u·n = 0 on Γ_N = ∂Ω ∩ {x > 0},

with ``a(x, y) = exp(a_tilt · y / r0)``, a constant source ``f`` (input ``source``) and a
constant boundary value ``g`` (input ``boundary_value``). The domain Ω changes from sample
to sample, ``r < r(θ) = r0 (1 + Σ_{m=2..M} a_m cos mθ + b_m sin mθ)`` with random small
coefficients, and is meshed by gmsh. No shape parameter is stored: a surrogate sees only
the mesh (``nodes``, ``triangles``), as in MMGP (Casenave et al., NeurIPS 2023).

Meshes of different sizes are stored padded to ``max_nodes`` / ``max_triangles`` (nodes
padded with ``0.0``, triangles with ``-1``) with their true sizes in ``n_nodes`` and
``n_triangles``; :meth:`DarcyMesh.sample_mesh` returns one trimmed mesh.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from pdeml._checks import (
    check_count,
    check_memory,
    check_seed,
    require_finite,
    require_int,
    require_positive,
)
from pdeml.mesh.generate import max_deviation, mesh_star_domain, random_star_coefficients
from pdeml.mesh.topology import TRIANGLE_PAD, boundary_edges, pad_mesh, signed_areas, trim_mesh
from pdeml.problems.base import Fields, Problem, make_solver, register_problem, sample_rng

if TYPE_CHECKING:
    from pdeml.problems.darcy_mesh.solver import DarcyMeshFEMSolver

#: Inputs and outputs stored as integers (the rest are floats).
INTEGER_FIELDS = ("triangles", "n_nodes", "n_triangles")
#: Largest allowed bound on |r/r0 − 1|: keeps the domain clearly star-shaped.
MAX_DEVIATION = 0.5
#: Largest padded mesh sizes (beyond these one sample's FEM solve is hours, not seconds).
MAX_MESH_ENTITIES = 10**7


def _range(problem: str, field: str, value: Any) -> tuple[float, float]:
    try:
        if isinstance(value, (str, bytes, dict)) or any(isinstance(v, bool) for v in value):
            raise TypeError
        low, high = (float(v) for v in value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(
            f"{problem}: {field} must be two numbers [low, high], got {value!r}"
        ) from None
    if not (math.isfinite(low) and math.isfinite(high) and low <= high):
        raise ValueError(f"{problem}: {field} must be finite with low <= high, got {value!r}")
    return low, high


@register_problem
@dataclasses.dataclass(frozen=True)
class DarcyMesh(Problem):
    """Darcy flow on random smooth star-shaped domains, meshed with triangles.

    Parameters
    ----------
    r0 : float
        Mean radius of the domains.
    n_harmonics : int
        Highest Fourier mode ``M`` of the boundary (modes 2..M carry randomness).
    amplitude : float
        Mode ``m`` coefficients are ``U(−amplitude/m², amplitude/m²)``; the bound
        ``2 amplitude Σ 1/m²`` on ``|r/r0 − 1|`` must stay ≤ 0.5.
    mesh_size : float
        Target triangle edge length (gmsh), in the units of ``r0``.
    max_nodes, max_triangles : int
        Padded sizes of the stored meshes; a mesh larger than these is an error (raise
        them or coarsen ``mesh_size``).
    source_range, boundary_value_range : (float, float)
        The scalar inputs ``source`` (f) and ``boundary_value`` (g) are uniform in these.
    a_tilt : float
        The coefficient is ``a = exp(a_tilt · y / r0)``.

    Fields
    ------
    inputs : ``nodes`` ``[n, node, axis]`` float, ``triangles`` ``[n, triangle, vertex]``
        int, ``n_nodes`` ``[n]`` int, ``n_triangles`` ``[n]`` int, ``source`` ``[n]``,
        ``boundary_value`` ``[n]``
    outputs : ``u`` ``[n, node]``, ``u_mean`` ``[n]`` (area mean of u),
        ``u_neumann_mean`` ``[n]`` (length mean of u over Γ_N)
    """

    name = "darcy_mesh"
    INPUTS: ClassVar[Fields] = {
        "nodes": ("node", "axis"),
        "triangles": ("triangle", "vertex"),
        "n_nodes": (),
        "n_triangles": (),
        "source": (),
        "boundary_value": (),
    }
    OUTPUTS: ClassVar[Fields] = {"u": ("node",), "u_mean": (), "u_neumann_mean": ()}

    r0: float = 1.0
    n_harmonics: int = 5
    amplitude: float = 0.25
    mesh_size: float = 0.05
    max_nodes: int = 2560
    max_triangles: int = 4864
    source_range: tuple[float, float] = (0.5, 2.0)
    boundary_value_range: tuple[float, float] = (0.0, 1.0)
    a_tilt: float = 0.5

    def __post_init__(self) -> None:
        # Ranges may come as lists (TOML, keyword arguments): store hashable float tuples.
        for field in ("source_range", "boundary_value_range"):
            object.__setattr__(self, field, _range(self.name, field, getattr(self, field)))
        super().__post_init__()

    def validate(self) -> None:
        require_positive(self.name, "r0", self.r0)
        # Beyond a few hundred modes gmsh cannot resolve the boundary anyway.
        require_int(self.name, "n_harmonics", self.n_harmonics, 2, 10**4)
        require_positive(self.name, "amplitude", self.amplitude, allow_zero=True)
        bound = max_deviation(self.n_harmonics, self.amplitude)
        if bound > MAX_DEVIATION:
            raise ValueError(
                f"{self.name}: amplitude {self.amplitude} lets r(θ)/r0 deviate from 1 by up to "
                f"{bound:.3g}; expected at most {MAX_DEVIATION} (a clearly star-shaped domain)"
            )
        require_positive(self.name, "mesh_size", self.mesh_size)
        if self.mesh_size > 0.5 * self.r0:
            raise ValueError(
                f"{self.name}: mesh_size must be <= r0/2 = {0.5 * self.r0:g}, got {self.mesh_size}"
            )
        require_int(self.name, "max_nodes", self.max_nodes, 3, MAX_MESH_ENTITIES)
        require_int(self.name, "max_triangles", self.max_triangles, 1, MAX_MESH_ENTITIES)
        require_finite(self.name, "a_tilt", self.a_tilt)
        # gmsh would spend minutes meshing before pad_mesh finds the mesh too large: refuse
        # a mesh_size whose smallest possible mesh already exceeds max_nodes several times.
        smallest_area = math.pi * (self.r0 * (1.0 - bound)) ** 2
        # A tiny mesh_size squares to 0.0 (underflow): then no mesh is small enough.
        node_area = math.sqrt(3.0) / 4.0 * self.mesh_size**2
        least_nodes = 0.5 * smallest_area / node_area if node_area > 0 else math.inf
        if least_nodes > 4 * self.max_nodes:
            raise ValueError(
                f"{self.name}: mesh_size {self.mesh_size!r} on domains of mean radius r0 = "
                f"{self.r0!r} (amplitude {self.amplitude!r}) gives at least about "
                f"{least_nodes:.3g} nodes per mesh, far more than max_nodes = {self.max_nodes}; "
                "increase mesh_size or raise max_nodes/max_triangles"
            )
        self.check_solver_memory(
            f"max_nodes = {self.max_nodes} and max_triangles = {self.max_triangles}"
        )

    def sample_nbytes(self, resolution: int | None = None) -> float:
        """Padded arrays of one sample plus the sparse FEM assembly and solve."""
        return 8.0 * (2 * self.max_nodes + 3 * self.max_triangles) + 400.0 * self.max_nodes

    # -- fields -------------------------------------------------------------------------
    @property
    def scalar_input_names(self) -> tuple[str, ...]:
        """The scalar physical inputs (the mesh fields excluded)."""
        return ("source", "boundary_value")

    def coords(self, resolution: int | None = None) -> dict[str, np.ndarray]:
        """Index coordinates of the padded axes (``node``, ``triangle``, ``vertex``, ``axis``)."""
        self._no_resolution(resolution)
        return {
            "node": np.arange(self.max_nodes),
            "triangle": np.arange(self.max_triangles),
            "vertex": np.arange(3),
            "axis": np.arange(2),
        }

    def output_mask(self, name: str, inputs: Mapping[str, np.ndarray]) -> np.ndarray | None:
        """``u``: True on each sample's first ``n_nodes`` nodes (the rest is padding);
        ``None`` for the scalar outputs."""
        if self.field_dims(name) != ("node",):
            return None
        counts = np.asarray(inputs["n_nodes"]).reshape(-1)
        return np.arange(self.max_nodes)[None, :] < counts[:, None]

    # -- there is no grid: resolution-based behaviour does not apply --------------------
    @property
    def resolution(self) -> None:  # type: ignore[override]
        """``None``: meshes have no resolution (``mesh_size`` sets their fineness)."""
        return None

    @property
    def solver_resolution(self) -> None:  # type: ignore[override]
        """``None``: the reference solver runs on the stored meshes themselves."""
        return None

    def _no_resolution(self, resolution: Any) -> None:
        if resolution is not None:
            raise ValueError(
                f"{self.name}: meshes have no resolution, got resolution={resolution!r}; "
                "set mesh_size (and max_nodes, max_triangles) instead"
            )

    def infer_resolution(self, inputs: Mapping[str, np.ndarray]) -> None:  # type: ignore[override]
        """``None``: there is no grid to read a resolution from."""
        return None

    def spatial_dims(self) -> tuple[str, ...]:
        return ("node",)

    def restrict(
        self, fields: Mapping[str, np.ndarray], from_resolution: Any, to_resolution: Any
    ) -> dict[str, np.ndarray]:
        """Identity (both resolutions ``None``): meshes cannot be strided."""
        self._no_resolution(from_resolution)
        self._no_resolution(to_resolution)
        return {k: np.asarray(v) for k, v in fields.items()}

    def restriction_stride(self, from_resolution: int, to_resolution: int) -> int:
        raise ValueError(f"{self.name}: meshes cannot be subsampled by striding")

    # -- checks -------------------------------------------------------------------------
    def check_inputs(
        self, inputs: Mapping[str, np.ndarray], resolution: int | None = None
    ) -> dict[str, np.ndarray]:
        """Validate a batch of inputs; floats as float64, ``INTEGER_FIELDS`` as int64.

        Beyond shapes and finiteness this checks the padded-mesh layout: ``n_nodes`` in
        ``[3, max_nodes]``, ``n_triangles`` in ``[1, max_triangles]``, vertex indices of the
        first ``n_triangles`` rows in ``[0, n_nodes)``, padding rows ``-1`` (triangles) and
        ``0.0`` (nodes), and every triangle counter-clockwise with positive area.
        """
        self._no_resolution(resolution)
        out = self._integers(self._check_fields(inputs, self.input_names, "inputs", None))
        n_nodes, n_triangles = out["n_nodes"], out["n_triangles"]
        for key, counts, low, high in (
            ("n_nodes", n_nodes, 3, self.max_nodes),
            ("n_triangles", n_triangles, 1, self.max_triangles),
        ):
            if counts.size and (counts.min() < low or counts.max() > high):
                bad = int(np.flatnonzero((counts < low) | (counts > high))[0])
                raise ValueError(
                    f"inputs[{key!r}]: sample {bad} has {counts[bad]}; expected {low} .. {high}"
                )
        nodes, triangles = out["nodes"], out["triangles"]
        rows = np.arange(self.max_triangles)[None, :]
        used = rows < n_triangles[:, None]
        limit = n_nodes[:, None, None]
        good = np.where(used[..., None], (triangles >= 0) & (triangles < limit), True)
        good &= np.where(used[..., None], True, triangles == TRIANGLE_PAD)
        if not good.all():
            sample = int(np.flatnonzero(~good.all(axis=(1, 2)))[0])
            raise ValueError(
                f"inputs['triangles']: sample {sample}: expected vertex indices in "
                f"[0, {n_nodes[sample]}) in the first {n_triangles[sample]} rows and "
                f"{TRIANGLE_PAD} in the padding rows"
            )
        padding = np.arange(self.max_nodes)[None, :] >= n_nodes[:, None]
        if np.any(nodes[padding] != 0.0):
            sample = int(np.flatnonzero(np.any((nodes != 0.0).any(axis=2) & padding, axis=1))[0])
            raise ValueError(
                f"inputs['nodes']: sample {sample}: expected 0.0 in the padding rows from "
                f"n_nodes = {n_nodes[sample]}"
            )
        safe = np.where(used[..., None], triangles, 0)
        corners = nodes[np.arange(len(nodes))[:, None, None], safe]  # [n, t, 3, 2]
        e1 = corners[:, :, 1] - corners[:, :, 0]
        e2 = corners[:, :, 2] - corners[:, :, 0]
        twice = e1[..., 0] * e2[..., 1] - e1[..., 1] * e2[..., 0]
        if np.any(used & (twice <= 0)):
            sample, row = (int(v[0]) for v in np.nonzero(used & (twice <= 0)))
            raise ValueError(
                f"inputs['triangles']: sample {sample}, triangle {row} is not counter-clockwise "
                "with positive area; expected counter-clockwise triangles"
            )
        return out

    def check_outputs(
        self, outputs: Mapping[str, np.ndarray], resolution: int | None = None
    ) -> dict[str, np.ndarray]:
        """Validate a batch of outputs (shapes, finite values) and return them as float64."""
        self._no_resolution(resolution)
        return self._check_fields(outputs, self.output_names, "outputs", None)

    def _integers(self, fields: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        # _check_fields gives float64 (exact for these small integers, also after a float32
        # round trip); turn the integer fields back, refusing fractional values.
        for key in INTEGER_FIELDS:
            if key in fields:
                value = fields[key]
                if np.any(value != np.round(value)):
                    raise TypeError(f"inputs[{key!r}]: expected integer values")
                fields[key] = value.astype(np.int64)
        return fields

    # -- meshes -------------------------------------------------------------------------
    def sample_mesh(
        self, inputs: Mapping[str, np.ndarray], i: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Mesh of sample ``i``, trimmed: ``(nodes [m, 2] float64, triangles [t, 3] int64)``."""
        n = len(inputs["n_nodes"])
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not -n <= i < n:
            raise ValueError(f"i: expected a sample index in [0, {n}), got {i!r}")
        return trim_mesh(
            inputs["nodes"][i],
            inputs["triangles"][i],
            inputs["n_nodes"][i],
            inputs["n_triangles"][i],
        )

    def coefficient(self, nodes: np.ndarray) -> np.ndarray:
        """The coefficient ``a = exp(a_tilt · y / r0)`` at ``nodes`` ``[m, 2]``."""
        return np.exp(self.a_tilt * np.asarray(nodes)[:, 1] / self.r0)

    @staticmethod
    def dirichlet_mask(nodes: np.ndarray, triangles: np.ndarray) -> np.ndarray:
        """Boolean ``[m]``: boundary nodes with ``x ≤ 0`` (round-off relative to the mesh size)."""
        nodes = np.asarray(nodes, dtype=np.float64)
        tolerance = 1e-9 * max(1.0, float(np.abs(nodes).max()))
        mask = np.zeros(len(nodes), dtype=bool)
        on_boundary = np.unique(boundary_edges(triangles))
        mask[on_boundary] = nodes[on_boundary, 0] <= tolerance
        return mask

    def quantities(
        self, nodes: np.ndarray, triangles: np.ndarray, u: np.ndarray
    ) -> tuple[float, float]:
        """``(u_mean, u_neumann_mean)`` of the P1 field ``u`` on one trimmed mesh.

        ``u_mean = ∫_Ω u / |Ω|``; ``u_neumann_mean`` is the length mean of ``u`` over the
        boundary edges not lying wholly on Γ_D (both ends with ``x ≤ 0``). Both are exact
        integrals of the P1 field.
        """
        from pdeml.solvers.fem import boundary_mean, domain_mean

        dirichlet = self.dirichlet_mask(nodes, triangles)
        edges = boundary_edges(triangles)
        neumann = ~(dirichlet[edges[:, 0]] & dirichlet[edges[:, 1]])
        return (
            domain_mean(nodes, triangles, u),
            boundary_mean(nodes, triangles, u, neumann),
        )

    def sample_inputs(
        self, n: int, seed: int, *, start: int = 0, resolution: int | None = None
    ) -> dict[str, np.ndarray]:
        """Draw ``n`` domains with their meshes and scalar inputs (samples ``start ..``).

        Sample ``i`` draws, from ``sample_rng(seed, i)``, the boundary coefficients, then
        ``source``, then ``boundary_value``, and is meshed by gmsh (deterministic).
        """
        n, seed = check_count(n), check_seed(seed)
        self._no_resolution(resolution)
        start = check_count(start, "start", 0)
        check_memory(
            self.name,
            f"a draw of n = {n} samples of max_nodes = {self.max_nodes}",
            n * self.sample_nbytes(),
            "draw fewer samples at once",
        )
        nodes = np.zeros((n, self.max_nodes, 2))
        triangles = np.full((n, self.max_triangles, 3), TRIANGLE_PAD, dtype=np.int64)
        n_nodes = np.zeros(n, dtype=np.int64)
        n_triangles = np.zeros(n, dtype=np.int64)
        source = np.zeros(n)
        boundary_value = np.zeros(n)
        for i in range(n):
            rng = sample_rng(seed, start + i)
            cosines, sines = random_star_coefficients(rng, self.n_harmonics, self.amplitude)
            source[i] = rng.uniform(*self.source_range)
            boundary_value[i] = rng.uniform(*self.boundary_value_range)
            mesh_nodes, mesh_triangles = mesh_star_domain(cosines, sines, self.r0, self.mesh_size)
            try:
                nodes[i], triangles[i] = pad_mesh(
                    mesh_nodes, mesh_triangles, self.max_nodes, self.max_triangles
                )
            except ValueError as error:
                raise ValueError(
                    f"{self.name}: sample {start + i}: {error}; raise max_nodes/max_triangles "
                    "or increase mesh_size"
                ) from None
            n_nodes[i], n_triangles[i] = len(mesh_nodes), len(mesh_triangles)
        return {
            "nodes": nodes,
            "triangles": triangles,
            "n_nodes": n_nodes,
            "n_triangles": n_triangles,
            "source": source,
            "boundary_value": boundary_value,
        }

    def reference_solver(self, **options: Any) -> DarcyMeshFEMSolver:
        """P1 finite elements on each sample's mesh (:mod:`pdeml.problems.darcy_mesh.solver`)."""
        from pdeml.problems.darcy_mesh.solver import DarcyMeshFEMSolver

        return make_solver(self, DarcyMeshFEMSolver, options)

    def error_indicator(
        self, inputs: Mapping[str, Any], outputs: Mapping[str, Any], **options: Any
    ) -> np.ndarray:
        """The FEM residual of the prediction, solved for its error on each sample's mesh.

        Exact against the reference solver (same FEM, same mesh) and as costly as it; see
        :func:`pdeml.problems.darcy_mesh.indicator.darcy_mesh_indicator` (``options``:
        ``norm``). There is no ``warm_start``: the reference solve is a direct LU.
        """
        from pdeml.problems.darcy_mesh.indicator import darcy_mesh_indicator

        return darcy_mesh_indicator(self, inputs, outputs, **options)

    def area(self, inputs: Mapping[str, np.ndarray], i: int) -> float:
        """Area of the mesh of sample ``i``."""
        return float(np.sum(signed_areas(*self.sample_mesh(inputs, i))))
