"""The FEM-residual error indicator of DarcyMesh (issue 22, Darcy on meshes).

Predictions with known errors are the reference solution plus known perturbations, so each
test knows the true error the estimate must equal (the indicator solves the FEM system for
the error exactly, on the mesh the data were solved on).
"""

import numpy as np
import pytest

import pdeml
from pdeml.problems import DarcyMesh
from pdeml.solvers.base import Solver
from pdeml.solvers.fem import stiffness_matrix


@pytest.fixture(scope="module")
def mesh_case():
    problem = DarcyMesh(mesh_size=0.3, max_nodes=128, max_triangles=256)
    inputs = problem.sample_inputs(3, seed=0)
    return problem, inputs, problem.reference_solver().solve(inputs)


def perturbed(problem, inputs, reference, scale):
    """``u`` plus ``scale[i] · ‖u_i‖`` times a smooth unit field on the real nodes."""
    u = reference["u"].copy()
    for i in range(len(u)):
        nodes, _ = problem.sample_mesh(inputs, i)
        field = np.cos(nodes[:, 0]) * (1.0 + nodes[:, 1])  # not zero on the Dirichlet part
        m = len(nodes)
        u[i, :m] += scale[i] * np.linalg.norm(u[i, :m]) * field / np.linalg.norm(field)
    return {**reference, "u": u}


def true_errors(problem, inputs, pred, reference):
    """Validation's relative L2 (real nodes only), averaged over the three fields."""
    mask = problem.output_mask("u", inputs)
    diff = np.where(mask, pred["u"] - reference["u"], 0.0)
    field = np.linalg.norm(diff, axis=1) / np.linalg.norm(reference["u"], axis=1)
    scalars = [
        np.abs(pred[k] - reference[k]) / np.abs(reference[k]) for k in ("u_mean", "u_neumann_mean")
    ]
    return np.mean([field, *scalars], axis=0)


def test_zero_for_the_fem_solution_itself(mesh_case):
    problem, inputs, reference = mesh_case
    assert np.all(problem.error_indicator(inputs, reference) < 1e-12)
    assert np.all(problem.error_indicator(inputs, reference, norm="energy") < 1e-12)


def test_estimate_is_the_true_error_and_grows_with_the_perturbation(mesh_case):
    problem, inputs, reference = mesh_case
    estimates = []
    for level in (1e-3, 1e-2, 1e-1):
        pred = perturbed(problem, inputs, reference, [level, 2 * level, 3 * level])
        pred["u_mean"] = reference["u_mean"] * (1.0 + level)  # a wrong scalar too
        est = problem.error_indicator(inputs, pred)
        np.testing.assert_allclose(est, true_errors(problem, inputs, pred, reference), rtol=1e-8)
        estimates.append(est)
    estimates = np.array(estimates)
    assert np.all(np.diff(estimates, axis=0) > 0)  # larger perturbation, larger estimate
    assert np.all(np.diff(estimates[-1]) > 0)  # and across samples, in the order of scale


def test_padding_is_ignored_and_energy_norm_matches(mesh_case):
    problem, inputs, reference = mesh_case
    pred = perturbed(problem, inputs, reference, [0.05, 0.05, 0.05])
    garbage = pred["u"].copy()
    garbage[~problem.output_mask("u", inputs)] = 1e3
    np.testing.assert_array_equal(
        problem.error_indicator(inputs, pred),
        problem.error_indicator(inputs, {**pred, "u": garbage}),
    )
    energy = problem.error_indicator(inputs, pred, norm="energy")
    for i in range(3):
        nodes, triangles = problem.sample_mesh(inputs, i)
        m = len(nodes)
        k = stiffness_matrix(nodes, triangles, problem.coefficient(nodes))
        e, u = pred["u"][i, :m] - reference["u"][i, :m], reference["u"][i, :m]
        assert energy[i] == pytest.approx(np.sqrt(e @ k @ e / (u @ k @ u)), rel=1e-8)


def test_bad_shapes_and_options_are_named(mesh_case):
    problem, inputs, reference = mesh_case
    with pytest.raises(ValueError, match=r"outputs\['u'\]"):
        problem.error_indicator(inputs, {**reference, "u": reference["u"][:, :-1]})
    with pytest.raises(ValueError, match="outputs: 2 samples, expected 3"):
        problem.error_indicator(inputs, {k: v[:2] for k, v in reference.items()})
    with pytest.raises(ValueError, match="u_neumann_mean"):
        problem.error_indicator(inputs, {"u": reference["u"], "u_mean": reference["u_mean"]})
    with pytest.raises(ValueError, match="norm must be one of"):
        problem.error_indicator(inputs, reference, norm="h1")
    with pytest.raises(TypeError, match="unexpected keyword"):
        problem.error_indicator(inputs, reference, method="amg")


class Shifted(Solver):
    """A stand-in surrogate: the reference solution with known relative perturbations."""

    name = "shifted"

    def __init__(self, problem, scale):
        super().__init__(problem)
        self.scale = scale

    def solve(self, inputs):
        reference = self.problem.reference_solver().solve(inputs)
        return perturbed(self.problem, inputs, reference, self.scale)


def test_guard_accepts_by_the_fem_residual(mesh_case):
    problem, inputs, reference = mesh_case
    guarded = pdeml.guard(Shifted(problem, [0.01, 0.2, 0.02]), tol=0.05)
    result = guarded.solve_with_report(inputs)
    assert list(result.paths) == ["accepted", "solved", "accepted"]
    np.testing.assert_allclose(result.outputs["u"][1], reference["u"][1])
    with pytest.raises(ValueError, match="no iterative reference solver"):
        pdeml.guard(Shifted(problem, [0.0] * 3), tol=0.05, fallback="warm-start")
