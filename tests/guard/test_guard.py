"""Error indicators, the out-of-distribution score and the guarded solver (issue 22).

Predictions with known errors are built from reference solutions, so every test knows the
true error it checks an estimate against; no network is trained here.
"""

import numpy as np
import pytest

import pdeml
from pdeml.guarded import GuardedSolver
from pdeml.ood import InputDistance
from pdeml.problems import Burgers1D, Darcy2D, NavierStokes2D
from pdeml.problems.grid import GridProblem
from pdeml.solvers.base import Solver


def relative(pred: np.ndarray, ref: np.ndarray) -> np.ndarray:
    n = len(ref)
    return np.linalg.norm((pred - ref).reshape(n, -1), axis=1) / np.linalg.norm(
        ref.reshape(n, -1), axis=1
    )


def bump(shape: tuple[int, ...]) -> np.ndarray:
    """A smooth field that vanishes on the boundary of the unit square (or interval)."""
    axes = [np.sin(np.pi * np.linspace(0.0, 1.0, s)) for s in shape]
    return np.prod(np.meshgrid(*axes, indexing="ij"), axis=0)


class Perturbed(Solver):
    """A stand-in surrogate: the reference solution plus ``scale[i]`` times a known field."""

    name = "perturbed"

    def __init__(self, problem, scale, field=None, key=None):
        super().__init__(problem)
        self.scale = np.asarray(scale, dtype=float)
        self.field = field
        self.key = key or problem.output_names[0]

    def solve(self, inputs):
        out = self.problem.reference_solver().solve(inputs)
        key = self.key
        ref = out[key]
        field = self.field if self.field is not None else bump(ref.shape[1:])
        norms = np.linalg.norm(ref.reshape(len(ref), -1), axis=1)
        unit = field / np.linalg.norm(field)
        shape = (-1,) + (1,) * (ref.ndim - 1)
        return {**out, key: ref + (self.scale * norms).reshape(shape) * unit}


@pytest.fixture(scope="module")
def darcy():
    problem = Darcy2D(resolution=15, solver_resolution=29, coefficient="lognormal")
    inputs = problem.sample_inputs(4, seed=0)
    return problem, inputs, problem.reference_solver().solve(inputs)


# -- indicators ------------------------------------------------------------------------
def test_darcy_indicator_is_the_true_error_on_its_own_grid(darcy):
    """Without the grid gap, the direct correction recovers the error exactly."""
    problem, inputs, ref = darcy
    scale = np.array([0.0, 0.01, 0.03, 0.1])
    pred = Perturbed(problem, scale).solve(inputs)
    true = relative(pred["u"], ref["u"])
    exact = problem.error_indicator(inputs, pred, grid_error=False, method="direct")
    np.testing.assert_allclose(exact, true, rtol=1e-6, atol=1e-12)
    amg = problem.error_indicator(inputs, pred, grid_error=False, method="amg")
    np.testing.assert_allclose(amg[1:], true[1:], rtol=0.3)
    with_gap = problem.error_indicator(inputs, pred)  # the default adds a gap >= 0
    assert np.all(np.diff(with_gap) > 0) and np.all(with_gap >= exact - 1e-12)


def test_navier_stokes_indicator_grows_with_the_error():
    problem = NavierStokes2D(resolution=16, solver_resolution=16, T=3, t_in=1, dt=0.05)
    inputs = problem.sample_inputs(3, seed=0)
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((3, 2, 16, 16))
    pred = Perturbed(problem, [0.001, 0.01, 0.1], noise).solve(inputs)
    ref = problem.reference_solver().solve(inputs)
    estimates = problem.error_indicator(inputs, pred)
    assert np.all(np.diff(estimates) > 0)
    assert problem.error_indicator(inputs, ref).max() < 1e-3  # the floor: exact outputs
    # summed defects: at least the error, at most a few times it
    true = relative(pred["w_out"], ref["w_out"])
    assert np.all(estimates > 0.5 * true) and np.all(estimates < 5 * true)


@pytest.mark.parametrize("n_t", [0, 2])
def test_burgers_indicator_grows_with_the_error(n_t):
    problem = Burgers1D(resolution=32, solver_resolution=64, T=0.2, n_t=n_t)
    inputs = problem.sample_inputs(3, seed=0)
    wave = np.cos(2 * np.pi * np.arange(32) / 32)
    key, field = ("u_traj", np.stack([wave] * n_t)) if n_t else ("u", wave)
    pred = Perturbed(problem, [0.001, 0.01, 0.1], field, key).solve(inputs)
    if n_t:  # the final state is the trajectory's last
        pred["u"] = pred["u_traj"][:, -1]
    estimates = problem.error_indicator(inputs, pred)
    assert np.all(np.diff(estimates) > 0)
    assert estimates[-1] > 0.01


def test_indicator_options_and_arrays_are_checked(darcy):
    problem, inputs, ref = darcy
    with pytest.raises(ValueError, match="iterations"):
        problem.error_indicator(inputs, ref, iterations=0)
    with pytest.raises(ValueError, match="method"):
        problem.error_indicator(inputs, ref, method="lu")
    with pytest.raises(ValueError, match=r"outputs\['u'\]"):
        problem.error_indicator(inputs, {"u": ref["u"][:, :-1]})
    with pytest.raises(TypeError, match="unexpected keyword"):
        problem.error_indicator(inputs, ref, tol=1)
    with pytest.raises(NotImplementedError, match="no a-posteriori error indicator"):
        GridProblem(inputs=["a"], outputs=["u"], resolution=8).error_indicator({}, {})


def test_warm_start_saves_iterations_and_reaches_the_reference(darcy):
    problem, inputs, ref = darcy
    close = Perturbed(problem, [1e-4] * 4).solve(inputs)
    warm, warm_iterations = problem.warm_start(inputs, close)
    cold, cold_iterations = problem.warm_start(inputs)
    assert np.all(warm_iterations < cold_iterations)
    np.testing.assert_allclose(warm["u"], ref["u"], atol=1e-9 * np.abs(ref["u"]).max())
    np.testing.assert_allclose(cold["u"], ref["u"], atol=1e-9 * np.abs(ref["u"]).max())


# -- the guard -------------------------------------------------------------------------
@pytest.mark.parametrize("fallback", ["solve", "warm-start", "flag"])
def test_guard_fallbacks(darcy, fallback):
    problem, inputs, ref = darcy
    surrogate = Perturbed(problem, [0.001, 0.2, 0.002, 0.3])
    guarded = pdeml.guard(surrogate, tol=0.05, fallback=fallback, compare_cold=True)
    assert isinstance(guarded, Solver)
    result = guarded.solve_with_report(inputs)
    taken = {"solve": "solved", "warm-start": "warm-started", "flag": "flagged"}[fallback]
    assert list(result.paths) == ["accepted", taken, "accepted", taken]
    assert result.accepted_fraction == 0.5 and result.counts() == {"accepted": 2, taken: 2}
    assert guarded.last_report is result
    pred = surrogate.solve(inputs)["u"]
    np.testing.assert_array_equal(result.outputs["u"][[0, 2]], pred[[0, 2]])
    if fallback == "flag":
        np.testing.assert_array_equal(result.outputs["u"], pred)
    else:
        np.testing.assert_allclose(result.outputs["u"][[1, 3]], ref["u"][[1, 3]], atol=1e-8)
    if fallback == "warm-start":
        assert result.iterations[[0, 2]].tolist() == [0, 0]
        assert np.all(result.iterations[[1, 3]] > 0)
        assert result.iterations_saved() is not None
    np.testing.assert_array_equal(guarded.solve(inputs)["u"], result.outputs["u"])
    assert set(result.seconds) == {"predict", "estimate", "fallback", "total"}


def test_guard_with_ood_rejects_far_inputs(darcy):
    problem, inputs, _ = darcy
    train = problem.sample_inputs(40, seed=1)
    ood = InputDistance(components=8).fit(train)
    far = {"a": inputs["a"] ** 3}  # a lognormal field with three times the log-variance
    assert np.all(ood.score(far) > ood.threshold)
    guarded = pdeml.guard(Perturbed(problem, [0.0] * 4), tol=0.5, fallback="flag", ood=ood)
    result = guarded.solve_with_report(far)
    assert list(result.paths) == ["flagged"] * 4 and result.ood_scores.shape == (4,)


def test_guard_refuses_bad_settings(darcy):
    problem, *_ = darcy
    surrogate = Perturbed(problem, [0.0])
    for tol in (0, -1.0, float("nan"), "0.1", True, None):
        with pytest.raises(ValueError, match="tol must be a positive number"):
            pdeml.guard(surrogate, tol=tol)
    with pytest.raises(ValueError, match="fallback must be one of"):
        pdeml.guard(surrogate, tol=0.1, fallback="resolve")
    with pytest.raises(TypeError, match="surrogate must be a solver"):
        pdeml.guard(object(), tol=0.1)
    with pytest.raises(TypeError, match="ood must be"):
        pdeml.guard(surrogate, tol=0.1, ood=object())
    with pytest.raises(RuntimeError, match="call fit"):
        InputDistance().score({"a": np.zeros((2, 3))})
    with pytest.raises(ValueError, match="components"):
        InputDistance(components=0)


def test_guard_names_a_problem_without_indicator_or_iteration():
    grid = GridProblem(inputs=["a"], outputs=["u"], resolution=8)

    class Identity(Solver):
        def solve(self, inputs):
            return {"u": np.asarray(inputs["a"])}

    with pytest.raises(ValueError, match="has no a-posteriori error indicator; pass your own"):
        pdeml.guard(Identity(grid), tol=0.1)
    # the user's own indicator is the way in
    own = pdeml.guard(Identity(grid), tol=0.1, fallback="flag", indicator=lambda i, o: [0.0, 1.0])
    result = own.solve_with_report({"a": np.zeros((2, 8))})
    assert list(result.paths) == ["accepted", "flagged"]
    wrong = pdeml.guard(Identity(grid), tol=0.1, fallback="flag", indicator=lambda i, o: [0.0])
    with pytest.raises(ValueError, match="one per sample"):
        wrong.solve({"a": np.zeros((2, 8))})
    ns = NavierStokes2D(resolution=16, solver_resolution=16, T=3, t_in=1, dt=0.05)
    with pytest.raises(ValueError, match="no iterative reference solver"):
        GuardedSolver(Perturbed(ns, [0.0]), tol=0.1, fallback="warm-start")
