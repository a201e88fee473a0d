"""A-posteriori error indicator of DarcyMesh: the FEM residual of a prediction, solved.

A prediction ``p`` gives nodal values on each sample's own mesh. The P1 finite-element
solution ``u_h`` of the reference solver on that mesh satisfies ``u_h = g`` on the
Dirichlet nodes and ``K_II u_I = F_I − K_ID g`` on the free ones, so its difference to the
prediction, ``e = u_h − p``, is ``g − p`` on the Dirichlet nodes and on the free nodes
solves

    K_II e_I = r_I,    r = F − K q,    q = p with its Dirichlet values replaced by g,

the residual of the prediction in the reference discretisation. The meshes are small
(about 210 nodes at the quick size, 1600 at the paper's), so ``e`` is solved exactly by a
sparse LU, as the reference solver does. The stored data are that same FEM on that same
mesh, so the estimate *is* the error against the data up to round-off, not an estimate
of it; and its cost is that of a reference solve (one assembly and one factorisation: at
the quick size 2.5 ms per sample against the reference solver's 2.8 ms, in
``validation/reports/indicators_quick.md``). On DarcyMesh the indicator therefore buys a
guarantee, not a saving: ``p + e`` is the reference solution.

From ``e``: ``norm="l2"`` gives the relative L2 error as validation measures it: the
Euclidean norm over the real nodes of ``u`` (never the padding) and ``|Δ| / |ref|`` for
the scalars ``u_mean`` and ``u_neumann_mean`` (recomputed from ``p + e``), averaged over
the three fields; ``norm="energy"`` gives the relative energy error of ``u`` alone,
``‖e‖_K / ‖p + e‖_K`` with ``‖v‖_K² = vᵀ K v`` (the a-weighted H1 semi-norm), the
natural norm of the residual (``‖e‖_K² = r_Iᵀ K_II⁻¹ r_I`` when ``p`` has the right
Dirichlet values).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse.linalg

from pdeml._checks import check_choice
from pdeml.problems.indicator import relative_estimate
from pdeml.solvers.fem import load_vector, stiffness_matrix

if TYPE_CHECKING:
    from pdeml.problems.darcy_mesh import DarcyMesh

#: The norms the error can be measured in (see the module docstring).
NORMS = ("l2", "energy")


def fem_error(
    nodes: np.ndarray,
    triangles: np.ndarray,
    dirichlet: np.ndarray,
    prediction: np.ndarray,
    *,
    dirichlet_value: float,
    source: float,
    coefficient: np.ndarray,
) -> tuple[np.ndarray, Any]:
    """The P1 solution minus ``prediction`` on one trimmed mesh, from the residual.

    Parameters
    ----------
    nodes, triangles : numpy.ndarray
        One mesh, ``[m, 2]`` float and ``[t, 3]`` counter-clockwise integer.
    dirichlet : numpy.ndarray
        Boolean ``[m]``: the nodes where ``u = dirichlet_value``.
    prediction : numpy.ndarray
        ``[m]`` predicted nodal values.
    dirichlet_value, source : float
        ``g`` and ``f``.
    coefficient : numpy.ndarray
        ``[m]`` nodal values of ``a``.

    Returns
    -------
    error : numpy.ndarray
        ``[m]``: ``u_h − prediction``.
    stiffness : scipy.sparse.csr_matrix
        ``K`` of the mesh (for the energy norm).
    """
    stiffness = stiffness_matrix(nodes, triangles, coefficient)
    error = np.where(dirichlet, dirichlet_value - prediction, 0.0)
    free = ~dirichlet
    if free.any():
        start = np.where(dirichlet, dirichlet_value, prediction)
        residual = load_vector(nodes, triangles, source) - stiffness @ start
        matrix = stiffness[free][:, free].tocsc()
        # Symmetric positive definite: the reference solver's ordering suits it too.
        lu = scipy.sparse.linalg.splu(matrix, permc_spec="MMD_AT_PLUS_A")
        error[free] = lu.solve(residual[free])
    return error, stiffness


def _energy(stiffness: Any, values: np.ndarray) -> float:
    """``sqrt(vᵀ K v)`` (round-off can make a tiny quadratic form negative)."""
    return float(np.sqrt(max(float(values @ (stiffness @ values)), 0.0)))


def darcy_mesh_indicator(
    problem: DarcyMesh,
    inputs: Mapping[str, np.ndarray],
    outputs: Mapping[str, np.ndarray],
    *,
    norm: str = "l2",
) -> np.ndarray:
    """Relative error of each prediction against the FEM solution on its own mesh.

    Parameters
    ----------
    problem : DarcyMesh
    inputs : dict
        The padded meshes and scalar inputs, as :meth:`DarcyMesh.check_inputs` accepts them.
    outputs : dict
        The prediction: ``{"u": [n, max_nodes], "u_mean": [n], "u_neumann_mean": [n]}``
        (values of ``u`` beyond each sample's ``n_nodes`` are padding and ignored).
    norm : {"l2", "energy"}
        ``"l2"``: relative L2 errors averaged over the three fields, as validation scores
        them; ``"energy"``: the relative energy error of ``u`` (module docstring).

    Returns
    -------
    numpy.ndarray
        ``[n]`` relative errors (exact against the reference solver's output, up to
        round-off: see the module docstring).

    Raises
    ------
    ValueError
        For a bad ``norm``, missing fields, wrong shapes, an invalid mesh layout,
        non-finite values, or sample counts that differ between inputs and outputs.
    """
    check_choice("norm", norm, NORMS)
    # Not indicator.checked_pair: a mesh has no resolution to infer.
    inputs, outputs = problem.check_inputs(inputs), problem.check_outputs(outputs)
    n = len(inputs["source"])
    if len(outputs["u"]) != n:
        raise ValueError(f"outputs: {len(outputs['u'])} samples, expected {n} like the inputs")
    mask = problem.output_mask("u", inputs)
    real = np.ones(outputs["u"].shape, dtype=bool) if mask is None else mask
    predicted = {**outputs, "u": np.where(real, outputs["u"], 0.0)}
    corrections = {name: np.zeros_like(values) for name, values in predicted.items()}
    energy = np.zeros(n)
    for i in range(n):
        nodes, triangles = problem.sample_mesh(inputs, i)
        m = len(nodes)
        error, stiffness = fem_error(
            nodes,
            triangles,
            problem.dirichlet_mask(nodes, triangles),
            predicted["u"][i, :m],
            dirichlet_value=float(inputs["boundary_value"][i]),
            source=float(inputs["source"][i]),
            coefficient=problem.coefficient(nodes),
        )
        corrections["u"][i, :m] = error
        solution = predicted["u"][i, :m] + error
        if norm == "energy":
            energy[i] = _energy(stiffness, error) / max(_energy(stiffness, solution), 1e-300)
            continue
        u_mean, u_neumann_mean = problem.quantities(nodes, triangles, solution)
        corrections["u_mean"][i] = u_mean - predicted["u_mean"][i]
        corrections["u_neumann_mean"][i] = u_neumann_mean - predicted["u_neumann_mean"][i]
    if norm == "energy":
        return energy
    return relative_estimate(corrections, predicted)
