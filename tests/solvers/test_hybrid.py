"""Verification of the hybrid (slow-only, closure) Lorenz96 solver.

Short runs of a few members: seconds on 2 cores once numba's cache holds the kernels.
"""

from __future__ import annotations

import numpy as np
import pytest

from pdeml.closures import make_closure
from pdeml.closures.polynomial import PolynomialClosure
from pdeml.problems import Lorenz96
from pdeml.solvers.hybrid import hybrid_rk4_polynomial
from pdeml.solvers.ode import lorenz96_rk4, lorenz96_rk4_numpy
from pdeml.surrogates.l96_hybrid import L96HybridSurrogate

LORENZ_1996 = {"K": 36, "J": 10, "F": 10.0, "dt": 0.005, "save_every": 10}
WILKS_2005 = {"K": 8, "J": 32, "F": 20.0, "dt": 0.001, "save_every": 50}
SETTINGS = pytest.mark.parametrize("setting", [LORENZ_1996, WILKS_2005], ids=["L96", "Wilks"])


def polynomial(coefficients) -> PolynomialClosure:
    """A polynomial closure with given coefficients (set, not fitted)."""
    closure = make_closure("polynomial", degree=len(coefficients) - 1)
    closure.coefficients = np.asarray(coefficients, dtype=float)
    closure.fitted = True
    return closure


def single_scale_rk4(x0: np.ndarray, F: float, dt: float, steps: int) -> np.ndarray:
    """Single-scale Lorenz96 with textbook RK4, written here from the equations."""

    def f(x):
        return (np.roll(x, -1, 1) - np.roll(x, 2, 1)) * np.roll(x, 1, 1) - x + F

    x = x0.copy()
    for _ in range(steps):
        k1 = f(x)
        k2 = f(x + dt / 2 * k1)
        k3 = f(x + dt / 2 * k2)
        k4 = f(x + dt * k3)
        x = x + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return x


@SETTINGS
@pytest.mark.parametrize("backend", ["numba", "numpy", "torch"])
def test_zero_closure_is_the_two_scale_solver_without_coupling(setting, backend):
    # h = 0 decouples the scales: the two-scale reference then integrates the single-scale
    # X equation, and the hybrid with c = 0 must give the same X. Both kernels do the same
    # operations in the same order, so the match is to round-off; it is bitwise on this
    # machine, and 1e-12 relative over one time unit allows other compilers' rounding
    # amplified by the chaos (leading exponent ~2 per time unit at F = 20).
    problem = Lorenz96(**setting, T=1.0, spinup=3.0)
    inputs = problem.sample_inputs(3, seed=0)
    hybrid = L96HybridSurrogate(problem, make_closure("none"), dt=problem.dt, backend=backend)
    x = hybrid.solve(inputs)["X"]
    steps = dict(dt=problem.dt, n_save=problem.n_save, save_every=problem.save_every)
    reference, _ = lorenz96_rk4(inputs["X0"], inputs["Y0"], F=problem.F, h=0.0, b=10, c=10, **steps)
    assert x.shape == reference.shape == (3, problem.n_save, problem.K)
    np.testing.assert_allclose(x, reference, rtol=0, atol=1e-12 * np.abs(reference).max())
    numpy_ref, _ = lorenz96_rk4_numpy(
        inputs["X0"], inputs["Y0"], F=problem.F, h=0.0, b=10, c=10, **steps
    )
    np.testing.assert_allclose(x, numpy_ref, rtol=0, atol=1e-12 * np.abs(reference).max())


def test_zero_closure_matches_an_independent_single_scale_rk4():
    # Written from the equations in this file: it happens to round alike (bitwise equal on
    # this machine), but a different operation order may differ by round-off amplified by
    # the chaos over 0.5 time units; 1e-11 allows that and catches any wrong term.
    problem = Lorenz96(**WILKS_2005, T=0.5, spinup=3.0)
    x0 = problem.sample_inputs(4, seed=1)["X0"]
    x = L96HybridSurrogate(problem, make_closure("none"), dt=0.005).integrate(x0, 0.5, 0.5)
    expected = single_scale_rk4(x0, problem.F, 0.005, 100)
    np.testing.assert_allclose(x[:, -1], expected, rtol=0, atol=1e-11 * np.abs(expected).max())


def test_constant_closure_is_extra_forcing():
    # c(X) = a_0 enters exactly like F: hybrid(F, a_0) = hybrid(F + a_0, 0) up to the rounding
    # of F + a_0 (one ulp per stage), amplified over 0.5 time units.
    problem = Lorenz96(**LORENZ_1996, T=0.5, spinup=2.0)
    shifted = Lorenz96(**{**LORENZ_1996, "F": 12.5}, T=0.5, spinup=2.0)
    x0 = problem.sample_inputs(3, seed=2)["X0"]
    a = L96HybridSurrogate(problem, polynomial([2.5])).integrate(x0, 0.5)
    b = L96HybridSurrogate(shifted, make_closure("none")).integrate(x0, 0.5)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-11 * np.abs(b).max())


@SETTINGS
def test_numba_and_torch_paths_agree_for_a_polynomial_closure(setting):
    # Two implementations of the same RK4 (numba kernel with Horner inside, torch loop with
    # the closure called per stage). The order of the degree-4 closure's operations is the
    # same, so agreement is to round-off (bitwise here); 1e-11 over one time unit.
    problem = Lorenz96(**setting, T=1.0, spinup=2.0)
    x0 = problem.sample_inputs(5, seed=3)["X0"]
    closure = polynomial([0.34, -0.6, 0.01, 3e-4, -2e-5])  # Wilks-like magnitudes
    a = L96HybridSurrogate(problem, closure, backend="numba").integrate(x0, 1.0)
    assert np.all(np.isfinite(a))
    for backend in ("torch", "numpy"):
        b = L96HybridSurrogate(problem, closure, backend=backend).integrate(x0, 1.0)
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-11 * np.abs(a).max())


@pytest.mark.parametrize("backend", ["numba", "numpy", "torch"])
def test_observed_order_of_convergence_is_four(backend):
    # Slow ring with a nonlinear closure over 0.2 time units (short, so the chaos amplifies
    # every step size's error by the same factor). Reference at dt = 1e-4. Measured: errors
    # 2.9e-5 (dt = 0.02) to 7.3e-9 (dt = 0.0025), slope 3.99 on both backends; ±0.3
    # rejects a third-order scheme.
    problem = Lorenz96(**{**WILKS_2005, "save_every": 200}, T=0.2, spinup=2.0)
    x0 = problem.sample_inputs(2, seed=4)["X0"]
    closure = polynomial([0.34, -0.6, 0.01, 3e-4, -2e-5])

    def run(dt):
        return L96HybridSurrogate(problem, closure, dt=dt, backend=backend).integrate(x0, 0.2)

    reference = run(1e-4)
    dts = np.array([0.02, 0.01, 0.005, 0.0025])
    errors = [np.abs(run(dt) - reference).max() / np.abs(reference).max() for dt in dts]
    assert max(errors) < 1e-3 and min(errors) > 1e-14, errors
    slope = np.polyfit(np.log(dts), np.log(errors), 1)[0]
    assert abs(slope - 4.0) < 0.3, f"observed order {slope:.3f}, errors {errors}"


def test_solve_returns_the_problem_time_grid_and_the_closure_term():
    problem = Lorenz96(**WILKS_2005, T=0.5, spinup=2.0)
    inputs = problem.sample_inputs(2, seed=5)
    closure = polynomial([0.3, -0.5])
    out = L96HybridSurrogate(problem, closure).solve(inputs)
    assert set(out) == {"X", "coupling"}
    assert out["X"].shape == (2, problem.n_save, problem.K) == out["coupling"].shape
    np.testing.assert_array_equal(out["coupling"], 0.3 - 0.5 * out["X"])
    # The stored states are at output_times: the first one is one save_interval in.
    first = L96HybridSurrogate(problem, closure).integrate(inputs["X0"], problem.save_interval)
    np.testing.assert_array_equal(first[:, 0], out["X"][:, 0])


def test_network_closure_runs_batched_through_its_fast_path(monkeypatch):
    problem = Lorenz96(**WILKS_2005, T=0.1, spinup=2.0)
    x0 = problem.sample_inputs(3, seed=6)["X0"]
    x, y = x0, -0.5 * x0 + 0.3
    fno = make_closure("fno", modes=4, width=8, layers=1, projection=8, epochs=1).fit(x, y)
    solver = L96HybridSurrogate(problem, fno, backend="numpy")
    assert not solver.uses_numba() and solver.path() == "numpy"
    via_torch = L96HybridSurrogate(problem, fno, backend="torch").integrate(x0, problem.T)
    calls = []
    inference = fno.inference

    def spy(k):
        calls.append(k)
        return inference(k)

    def no_torch(v):
        raise AssertionError("the numpy path must not call the torch forward")

    monkeypatch.setattr(fno, "inference", spy)
    monkeypatch.setattr(fno, "torch_call", no_torch)
    x_fast = solver.integrate(x0, problem.T)
    assert calls == [8]
    monkeypatch.undo()
    out = solver.solve({"X0": x0})
    np.testing.assert_array_equal(out["X"], x_fast)
    assert out["X"].shape == (3, 2, 8) and np.all(np.isfinite(out["X"]))
    # The coupling comes from the float64 fast path; the float32 torch forward, an
    # independent evaluation of the same network, agrees to float32 round-off.
    torch_coupling = fno(out["X"].reshape(-1, 8)).reshape(3, 2, 8)
    scale = np.abs(torch_coupling).max()
    np.testing.assert_allclose(out["coupling"], torch_coupling, rtol=0, atol=1e-5 * scale)
    # The torch loop evaluates the float32 network: float32 round-off (~1e-7 of the
    # closure) integrated over 0.1 time units stays below 1e-6 of |X|.
    np.testing.assert_allclose(x_fast, via_torch, rtol=0, atol=1e-6 * np.abs(x_fast).max())
    # Each member is integrated independently of the others in the batch.
    alone = solver.integrate(x0[1:2], problem.T)
    np.testing.assert_allclose(alone[0], out["X"][1], rtol=0, atol=1e-12 * np.abs(alone).max())


@pytest.mark.parametrize("activation", ["gelu", "relu", "tanh", "silu"])
def test_compiled_fno_kernel_equals_the_numpy_loop(activation):
    from pdeml.closures.fno import DENSE_LIMIT

    problem = Lorenz96(**WILKS_2005, T=0.5, spinup=2.0)
    x0 = problem.sample_inputs(5, seed=8)["X0"]
    rng = np.random.default_rng(1)
    x = 4.0 + 5.0 * rng.standard_normal((64, 8))
    y = 0.3 - 0.5 * x + 0.02 * np.roll(x, 1, 1) * np.roll(x, -1, 1)
    hp = {"modes": 5, "width": 6, "layers": 2, "projection": 8, "epochs": 2}
    fno = make_closure("fno", activation=activation, **hp).fit(x, y)
    auto = L96HybridSurrogate(problem, fno)
    assert auto.path() == "numba" and auto.uses_numba(8)
    # Past the dense limit the FNO runs in the numpy loop (FFT form).
    long_ring = DENSE_LIMIT // hp["width"] + 1
    assert auto.path(long_ring) == "numpy"
    compiled = auto.integrate(x0, problem.T)
    looped = L96HybridSurrogate(problem, fno, backend="numpy").integrate(x0, problem.T)
    # Same operations in the same order; only BLAS blocking and libm's erf/tanh/exp may
    # differ in the last bit (~1e-16 relative per step), grown by the chaotic flow over
    # 0.5 time units (leading Lyapunov exponent ~ 2-3 per time unit at Wilks): 1e-12.
    np.testing.assert_allclose(compiled, looped, rtol=0, atol=1e-12 * np.abs(looped).max())
    assert np.all(np.isfinite(compiled))
    np.testing.assert_allclose(
        auto.integrate(np.ascontiguousarray(x0[2:3]), problem.T)[0],
        compiled[2],
        rtol=0,
        atol=1e-12 * np.abs(compiled).max(),
    )


def test_default_step_is_independent_of_the_problem_step():
    # The slow-only system is not stiff: its default step comes from the step-size study
    # (DEFAULT_DT), capped by the output interval, not from the resolved model's dt.
    from pdeml.surrogates.l96_hybrid import DEFAULT_DT

    for dt in (0.001, 0.005):
        problem = Lorenz96(**{**WILKS_2005, "dt": dt, "save_every": round(0.05 / dt)}, T=0.5)
        assert L96HybridSurrogate(problem, make_closure("none")).dt == min(DEFAULT_DT, 0.05)
    fine = Lorenz96(**{**WILKS_2005, "save_every": 10}, T=0.5)  # output every 0.01
    assert L96HybridSurrogate(fine, make_closure("none")).dt == min(DEFAULT_DT, 0.01)


def test_blow_up_raises_or_is_returned():
    problem = Lorenz96(**WILKS_2005, T=2.0, spinup=2.0)
    x0 = problem.sample_inputs(2, seed=7)["X0"]
    explosive = polynomial([0.0, 0.0, 0.0, 1.0])  # c = +X³ drives |X| to infinity
    with pytest.raises(FloatingPointError, match="NaN or infinite"):
        L96HybridSurrogate(problem, explosive).solve({"X0": x0})
    with np.errstate(all="ignore"):
        out = L96HybridSurrogate(problem, explosive, check_finite=False).solve({"X0": x0})
    assert not np.all(np.isfinite(out["X"]))


def test_bad_arguments_are_named():
    problem = Lorenz96(**WILKS_2005, T=0.5, spinup=0.0)
    zero = make_closure("none")
    with pytest.raises(TypeError, match="closure"):
        L96HybridSurrogate(problem, lambda x: 0 * x)
    with pytest.raises(TypeError, match="problem"):
        L96HybridSurrogate("lorenz96", zero)
    with pytest.raises(ValueError, match="backend"):
        L96HybridSurrogate(problem, zero, backend="jax")
    with pytest.raises(ValueError, match="dt"):
        L96HybridSurrogate(problem, zero, dt=-1.0)
    mlp = make_closure("mlp", epochs=1, hidden=(4,))
    mlp.fit(np.random.default_rng(0).standard_normal((4, 8)), np.zeros((4, 8)))
    with pytest.raises(ValueError, match="backend 'numba' needs a polynomial"):
        L96HybridSurrogate(problem, mlp, backend="numba")
    fno = make_closure("fno", epochs=1, width=4, layers=1, projection=4)
    fno.fit(np.random.default_rng(0).standard_normal((4, 8)), np.zeros((4, 8)))
    # The dense (compiled) form exists only for K·width <= DENSE_LIMIT = 512: not at K = 129.
    with pytest.raises(ValueError, match="K = 129 has neither"):
        L96HybridSurrogate(problem, fno, backend="numba").integrate(np.zeros((1, 129)), 0.5)
    solver = L96HybridSurrogate(problem, zero)
    with pytest.raises(ValueError, match="X0"):
        solver.solve({"Y0": np.zeros((1, 8, 32))})
    with pytest.raises(ValueError, match="K = 8"):
        solver.solve({"X0": np.zeros((1, 9))})
    with pytest.raises(ValueError, match="whole multiple"):
        solver.integrate(np.zeros((1, 8)), 0.07)
    with pytest.raises(ValueError, match="not fitted"):
        L96HybridSurrogate(problem, make_closure("polynomial")).integrate(np.zeros((1, 8)), 0.5)
    with pytest.raises(ValueError, match="coefficients"):
        hybrid_rk4_polynomial(np.zeros((1, 8)), [], F=8.0, dt=0.01, n_save=1, save_every=1)


@pytest.mark.parametrize("members", [1, 2, 3, 40])
def test_integrate_leaves_the_initial_states_alone(members):
    # A one-lane block once handed the caller's X0 to the in-place numba kernel.
    problem = Lorenz96(**WILKS_2005, T=0.1, spinup=2.0)
    x0 = problem.sample_inputs(members, seed=6)["X0"]
    kept = x0.copy()
    for backend in ("numba", "numpy", "torch"):
        solver = L96HybridSurrogate(problem, polynomial([0.3, -0.5]), backend=backend)
        first = solver.integrate(x0, 0.1)
        np.testing.assert_array_equal(x0, kept)
        np.testing.assert_array_equal(solver.integrate(x0, 0.1), first)


# -- the surrogate "l96-hybrid": fit on a dataset, settings, files, the suite ------------------
def trajectories(problem, n, seed, folder):
    """Resolved trajectories as a float64 dataset, and the closure pairs they hold."""
    import pdeml
    from pdeml.closures import closure_training_data

    inputs = problem.sample_inputs(n, seed)
    outputs = problem.reference_solver().solve(inputs)
    path = folder / f"l96_{seed}.h5"
    data = pdeml.from_arrays(problem, inputs, outputs, path=path, dtype="float64")
    return data, closure_training_data(problem, n, seed)


def test_surrogate_fits_its_closure_on_the_pairs_of_a_dataset(tmp_path):
    # fit(train) must learn exactly what the closure learns from the same pairs (the
    # numbers of the study and of earlier runs), and solve as the hybrid with that closure.
    import pdeml

    problem = Lorenz96(**WILKS_2005, T=0.5, spinup=2.0)
    train, (x, c) = trajectories(problem, 4, 0, tmp_path)
    hybrid = pdeml.make_surrogate("l96-hybrid", problem, closure="polynomial", degree=3)
    assert not hybrid.fitted
    assert hybrid.fit(train, train) is hybrid and hybrid.fitted
    closure = make_closure("polynomial", degree=3).fit(x, c)
    np.testing.assert_array_equal(hybrid.closure.coefficients, closure.coefficients)
    expected = L96HybridSurrogate(problem, closure).solve(train.inputs)
    out = hybrid.solve(train.inputs)
    for name in ("X", "coupling"):
        np.testing.assert_array_equal(out[name], expected[name])
    normalised = np.mean((closure(x) - c) ** 2) / np.var(c)
    assert hybrid.valid_closure_error == pytest.approx(normalised, rel=1e-12)
    assert hybrid.parameter_count() == 4


@pytest.mark.parametrize(
    ("closure", "hyper", "options"),
    [
        ("polynomial", {"degree": 2}, {}),
        ("mlp", {"hidden": [8]}, {"epochs": 2, "batch_size": 16, "seed": 1}),
        ("gp", {"max_points": 40}, {"restarts": 1}),
    ],
)
def test_surrogate_save_and_load_round_trip(closure, hyper, options, tmp_path):
    import torch

    import pdeml

    problem = Lorenz96(**WILKS_2005, T=0.2, spinup=2.0)
    train, _ = trajectories(problem, 3, 0, tmp_path)
    kept = {k: v.copy() for k, v in train.inputs.items()}
    hybrid = pdeml.make_surrogate("l96-hybrid", problem, closure=closure, **hyper)
    hybrid.fit(train, progress=False, **options)
    for key, value in options.items():  # fit options reach the closure
        assert hybrid.closure.hyperparameters[key] == value
    folder = hybrid.save(tmp_path / "run")
    assert {p.name for p in folder.iterdir()} <= {"config.json", "closure_weights.pt"}
    if (folder / "closure_weights.pt").exists():
        torch.load(folder / "closure_weights.pt", weights_only=True)
    loaded = pdeml.load_surrogate(folder)
    assert type(loaded) is type(hybrid) and loaded.get_params() == hybrid.get_params()
    assert loaded.closure.hyperparameters == hybrid.closure.hyperparameters
    a, b = hybrid.solve(train.inputs), loaded.solve(train.inputs)
    for name in ("X", "coupling"):
        np.testing.assert_array_equal(a[name], b[name])
    for name, value in kept.items():  # inputs are left alone
        np.testing.assert_array_equal(train.inputs[name], value)
    rebuilt = type(hybrid)(problem, **hybrid.get_params())
    assert rebuilt.get_params() == hybrid.get_params() and not rebuilt.fitted


def test_surrogate_keeps_model_and_training_settings_apart(tmp_path):
    import pdeml
    from pdeml.surrogates.base import surrogate_class

    problem = Lorenz96(**WILKS_2005, T=0.2, spinup=2.0)
    train, _ = trajectories(problem, 2, 0, tmp_path)
    with pytest.raises(TypeError, match="training settings"):
        pdeml.make_surrogate("l96-hybrid", problem, closure="mlp", epochs=3)
    with pytest.raises(TypeError, match="unexpected option"):
        pdeml.make_surrogate("l96-hybrid", problem, closure="polynomial").fit(train, steps=3)
    with pytest.raises(TypeError, match="takes no option"):
        pdeml.make_surrogate("l96-hybrid", problem, closure="polynomial").fit(train, epochs=3)
    with pytest.raises(ValueError, match="degree"):
        pdeml.make_surrogate("l96-hybrid", problem, closure="polynomial", degree=-1)
    with pytest.raises(ValueError, match="unknown closure"):
        pdeml.make_surrogate("l96-hybrid", problem, closure="spline")
    with pytest.raises(TypeError, match="Lorenz96"):
        pdeml.make_surrogate("l96-hybrid", pdeml.load_problem("burgers", size="quick"))
    other = Lorenz96(**{**WILKS_2005, "K": 9}, T=0.2, spinup=2.0)
    with pytest.raises(ValueError, match="K = 9"):
        pdeml.make_surrogate("l96-hybrid", other, closure="polynomial").fit(train)
    capabilities = surrogate_class("l96-hybrid").capabilities
    assert capabilities.needs_data and not capabilities.trains_per_query


def test_the_lorenz96_suites_name_the_hybrid_with_every_closure():
    from pathlib import Path

    from pdeml.closures import available_closures
    from pdeml.validation.suite import load_suite

    root = Path(__file__).resolve().parents[2] / "validation" / "suites"
    for size in ("quick", "paper"):
        suite = load_suite(root / f"lorenz96_{size}.toml")
        for case in suite.problems:
            named = {s.hyperparameters["closure"] for s in suite.surrogates if s.problem == case.id}
            assert named == set(available_closures())
            assert case.problem().name == "lorenz96"


@pytest.mark.slow
def test_a_suite_scores_the_hybrid_against_the_resolved_solver(tmp_path):
    # The runner path of validation/suites/lorenz96_quick.toml, tiny: the dataset, the
    # one-grid reference "ladder" (timing only, error 0) and one hybrid entry.
    import json

    import pdeml

    suite = {
        "name": "l96_tiny",
        "data_dir": str(tmp_path / "data"),
        "metrics": ["relative_l2", "max_error"],
        "problems": [
            {
                "id": "wilks",
                "preset": "lorenz96-wilks",
                "size": "quick",
                "set": {"T": 0.2, "spinup": 1.0},
                "n_train": 3,
                "n_test": 2,
                "reference": {"resolutions": [8], "truth_resolution": 8, "samples": 2},
            }
        ],
        "surrogates": [
            {
                "id": "polynomial",
                "problem": "wilks",
                "name": "l96-hybrid",
                "hyperparameters": {"closure": "polynomial", "degree": 2},
            }
        ],
    }
    pdeml.validate(suite, tmp_path / "out", workers=1, progress=False)
    entries = tmp_path / "out" / "entries"
    reference = json.loads((entries / "wilks__reference.json").read_text())
    assert reference["status"] == "ok" and reference["ladder"][0]["relative_l2"] == 0.0
    record = json.loads((entries / "wilks__polynomial.json").read_text())
    assert record["status"] == "ok", record["error"]
    assert set(record["metrics"]["relative_l2"]) == {"X", "coupling"}
    assert 0 < record["metrics"]["relative_l2"]["X"]["mean"] < 1
    assert record["parameters"] == 3 and record["speedup"] > 0
