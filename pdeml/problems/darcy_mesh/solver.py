"""The reference solver of DarcyMesh: P1 finite elements on each sample's own mesh."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from pdeml.problems.adapter import ProblemSolver
from pdeml.solvers.fem import solve_p1

if TYPE_CHECKING:
    from pdeml.problems.darcy_mesh import DarcyMesh


class DarcyMeshFEMSolver(ProblemSolver):
    """P1 finite-element reference solver of :class:`pdeml.problems.darcy_mesh.DarcyMesh`.

    Each sample is solved on its own mesh (trimmed from the padded arrays): Dirichlet
    ``u = boundary_value`` at boundary nodes with ``x ≤ 0``, zero flux on the other
    boundary edges, source ``f = source``, coefficient from ``problem.coefficient``.
    """

    name = "p1-fem"
    problem_name = "darcy_mesh"

    def __init__(self, problem: DarcyMesh) -> None:
        super().__init__(problem)

    def _solve(self, inputs: dict[str, np.ndarray], resolution: None) -> dict[str, np.ndarray]:
        problem = self.problem
        n = len(inputs["source"])
        u = np.zeros((n, problem.max_nodes))
        u_mean = np.zeros(n)
        u_neumann = np.zeros(n)
        for i in range(n):
            nodes, triangles = problem.sample_mesh(inputs, i)
            values = solve_p1(
                nodes,
                triangles,
                problem.dirichlet_mask(nodes, triangles),
                dirichlet_values=float(inputs["boundary_value"][i]),
                source=float(inputs["source"][i]),
                coefficient=problem.coefficient(nodes),
            )
            u[i, : len(nodes)] = values
            u_mean[i], u_neumann[i] = problem.quantities(nodes, triangles, values)
        return {"u": u, "u_mean": u_mean, "u_neumann_mean": u_neumann}
