"""Verification of the two-scale Lorenz96 problem and its numba RK4 reference solver.

All runs are short (a few hundred thousand member-steps at most), so the file takes seconds
on 2 cores once numba's cache holds the kernels (the first run compiles them, ~20 s).
"""

from __future__ import annotations

import numpy as np
import pytest

import pdeml
from pdeml.data.generation import generate
from pdeml.problems import Lorenz96
from pdeml.problems.lorenz96.solver import Lorenz96RK4Solver
from pdeml.solvers.ode import (
    lorenz96_rk4,
    lorenz96_rk4_numpy,
    lorenz96_tendency,
)

LORENZ_1996 = {"K": 36, "J": 10, "F": 10.0}
WILKS_2005 = {"K": 8, "J": 32, "F": 20.0}
SETTINGS = pytest.mark.parametrize("setting", [LORENZ_1996, WILKS_2005], ids=["L96", "Wilks"])


def params(problem: Lorenz96) -> dict[str, float]:
    return {"F": problem.F, "h": problem.h, "b": problem.b, "c": problem.c}


def relative_error(a: dict[str, np.ndarray], ref: dict[str, np.ndarray]) -> float:
    """Relative 2-norm error of the whole state (X and Y together)."""
    num = sum(np.sum((a[k] - ref[k]) ** 2) for k in ("X", "Y"))
    den = sum(np.sum(ref[k] ** 2) for k in ("X", "Y"))
    return float(np.sqrt(num / den))


# -- the time integrator ---------------------------------------------------------------------
@SETTINGS
def test_observed_order_of_convergence_is_four(setting):
    # The system is chaotic: errors grow like e^{λt} with a fast-scale λ of about 20 per time
    # unit, so over a long horizon every step size ends on a different trajectory and no
    # order is visible (at t = 0.5 the Wilks errors for dt = 0.001 .. 0.004 are all ~0.1).
    # Over t = 0.1 the amplification is a fixed factor that does not depend on dt, so the
    # global error is still C·dt⁴. Measured on six seeds and both settings: errors from
    # ~6e-5 (dt = 0.002) down to ~2e-9 (dt = 0.00025), fitted slopes 3.88 to 4.15 (the
    # spread is the pre-asymptotic drift at the largest step, larger for the more energetic
    # Wilks setting). The reference at dt = 1e-5 is ~1e-15 from the exact flow. ±0.3 around 4
    # allows that drift and rejects a third-order scheme.
    problem = Lorenz96(**setting, T=0.1, save_every=20, spinup=5.0)
    inputs = problem.sample_inputs(1, seed=0)
    reference = Lorenz96RK4Solver(problem, dt=1e-5).solve(inputs)
    dts = np.array([0.002, 0.001, 0.0005, 0.00025])
    errors = [
        relative_error(Lorenz96RK4Solver(problem, dt=dt).solve(inputs), reference) for dt in dts
    ]
    assert max(errors) < 1e-3 and min(errors) > 1e-12, errors
    slope = np.polyfit(np.log(dts), np.log(errors), 1)[0]
    assert abs(slope - 4.0) < 0.3, f"observed order {slope:.3f}, errors {errors}"


@SETTINGS
def test_numba_kernel_agrees_with_plain_numpy_to_round_off(setting):
    # The two implementations do the same operations in the same order except Σ_j Y_{j,k}
    # (numba sums sequentially, numpy pairwise), so they differ by round-off, ~1e-16, which
    # the chaotic flow amplifies over the 40 steps (0.2 time units). Measured: < 5e-15
    # relative here; 5e-13 for the worst of 64 members at the Wilks setting (the benchmark),
    # where the fast ring's finite-time growth is largest. 1e-11 leaves room for that; a
    # wrong index or coefficient would differ by ~dt·|f| ≳ 1e-3.
    problem = Lorenz96(**setting)
    states = problem.sample_inputs(3, seed=1)
    run = {"dt": problem.dt, "n_save": 4, "save_every": 10, **params(problem)}
    x_nb, y_nb = lorenz96_rk4(states["X0"], states["Y0"], **run)
    x_np, y_np = lorenz96_rk4_numpy(states["X0"], states["Y0"], **run)
    assert x_nb.shape == x_np.shape == (3, 4, problem.K)
    assert y_nb.shape == y_np.shape == (3, 4, problem.K, problem.J)
    assert np.abs(x_nb - x_np).max() < 1e-11 * np.abs(x_np).max()
    assert np.abs(y_nb - y_np).max() < 1e-11 * np.abs(y_np).max()


def test_a_sample_does_not_depend_on_its_batch():
    # The kernel packs members into blocks (lanes), padding the last one; a member's result
    # must be bitwise the same whatever its neighbours, or datasets would depend on chunking.
    problem = Lorenz96(K=8, J=4, T=0.25, spinup=1.0)
    inputs = problem.sample_inputs(5, seed=3)
    whole = problem.reference_solver().solve(inputs)
    for i in (0, 4):
        alone = problem.reference_solver().solve({k: v[i : i + 1] for k, v in inputs.items()})
        for key in problem.output_names:
            np.testing.assert_array_equal(whole[key][i], alone[key][0])
    np.testing.assert_array_equal(inputs["X0"][3:], problem.sample_inputs(2, 3, start=3)["X0"])


# -- the tendency ----------------------------------------------------------------------------
def tendency_by_the_book(X, Y, F, h, b, c):
    """The equations with explicit (j, k) indices and Y_{J,k} = Y_{0,k+1}: slow, independent."""
    n, K, J = Y.shape
    dX, dY = np.empty_like(X), np.empty_like(Y)

    def y(s, j, k):  # fast variable j of sector k, carried across sectors around the ring
        k, j = (k + j // J) % K, j % J
        return Y[s, k, j]

    for s in range(n):
        for k in range(K):
            adv = X[s, (k - 1) % K] * (X[s, (k + 1) % K] - X[s, (k - 2) % K])
            dX[s, k] = adv - X[s, k] + F - h * c / b * Y[s, k].sum()
            for j in range(J):
                adv = -c * b * y(s, j + 1, k) * (y(s, j + 2, k) - y(s, j - 1, k))
                dY[s, k, j] = adv - c * Y[s, k, j] + h * c / b * X[s, k]
    return dX, dY


@pytest.mark.parametrize("K, J", [(4, 1), (5, 3), (8, 32), (36, 10)])
def test_tendency_matches_the_equations_written_out(K, J):
    rng = np.random.default_rng(K * 100 + J)
    X, Y = rng.standard_normal((3, K)), rng.standard_normal((3, K, J))
    dX, dY = lorenz96_tendency(X, Y, F=7.0, h=0.5, b=3.0, c=4.0)
    ref_x, ref_y = tendency_by_the_book(X, Y, 7.0, 0.5, 3.0, 4.0)
    np.testing.assert_allclose(dX, ref_x, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(dY, ref_y, rtol=1e-13, atol=1e-12)


@pytest.mark.parametrize("K, J", [(5, 3), (8, 32), (36, 10)])
def test_quadratic_terms_conserve_energy(K, J):
    # Σ_k X_k X_{k−1}(X_{k+1} − X_{k−2}) telescopes to 0 on a ring, and likewise for Y; the
    # coupling moves (hc/b) Σ X_k Σ_j Y_{j,k} from one ring to the other. Damping then removes
    # exactly Σ X² + c Σ Y². Each identity holds to round-off relative to the size of terms.
    rng = np.random.default_rng(J)
    X, Y = 3.0 * rng.standard_normal((4, K)), rng.standard_normal((4, K, J))
    scale_x = np.sum(np.abs(X) ** 3, axis=1)
    scale_y = 100.0 * np.sum(np.abs(Y) ** 3, axis=(1, 2))
    dX, dY = lorenz96_tendency(X, Y, F=0.0, coupling=False, damping=False)
    assert np.all(np.abs(np.sum(X * dX, axis=1)) < 1e-14 * scale_x)
    assert np.all(np.abs(np.sum(Y * dY, axis=(1, 2))) < 1e-14 * scale_y)
    dX, dY = lorenz96_tendency(X, Y, F=0.0, damping=False)
    energy_rate = np.sum(X * dX, axis=1) + np.sum(Y * dY, axis=(1, 2))
    assert np.all(np.abs(energy_rate) < 1e-14 * (scale_x + scale_y))
    assert np.abs(np.sum(X * dX, axis=1)).min() > 1e-3  # the coupling does move energy
    dX, dY = lorenz96_tendency(X, Y, F=0.0, c=10.0)
    dissipated = -np.sum(X**2, axis=1) - 10.0 * np.sum(Y**2, axis=(1, 2))
    energy_rate = np.sum(X * dX, axis=1) + np.sum(Y * dY, axis=(1, 2))
    np.testing.assert_allclose(energy_rate, dissipated, rtol=1e-12)


# -- long-run statistics -----------------------------------------------------------------------
def block_means(values: np.ndarray, block: int) -> np.ndarray:
    """Means over consecutive blocks of ``block`` stored times, per member: [members·blocks]."""
    n, m = values.shape
    return values[:, : m - m % block].reshape(n, -1, block).mean(axis=2).ravel()


def test_climate_of_x_agrees_across_seeds():
    # Wilks setting, two seeds, 8 members × 200 time units each (3.2e5 member-steps per
    # seed; ~1.5 s for both on 2 cores). X is pooled over its sites (equivalent by
    # symmetry). Standard errors come from means over blocks of 20 time units (80 per seed):
    # measured on 4 × 400 time units at both settings, the block-mean estimate of the
    # standard error grows with the block length up to ~20 time units and then levels off,
    # i.e. blocks that long are nearly independent. The two seeds' means and variances must
    # agree within 4 standard errors of their difference (a 1-in-15000 chance for
    # independent Gaussian estimates), and the test must resolve a 5 % change of either,
    # so that it has the power to see a wrong climate.
    problem = Lorenz96(**WILKS_2005, T=200.0, save_every=20, spinup=10.0)
    block = round(20.0 / problem.save_interval)
    estimates = []
    for seed in (0, 1):
        x = problem.reference_solver().solve(problem.sample_inputs(8, seed=seed))["X"]
        site_mean = x.mean(axis=2)
        means = block_means(site_mean, block)
        mean = means.mean()
        spread = block_means(((x - mean) ** 2).mean(axis=2), block)
        n_blocks = means.size
        estimates.append(
            (
                mean,
                means.std(ddof=1) / np.sqrt(n_blocks),
                spread.mean(),
                spread.std(ddof=1) / np.sqrt(n_blocks),
            )
        )
    (m0, se_m0, v0, se_v0), (m1, se_m1, v1, se_v1) = estimates
    se_mean, se_var = np.hypot(se_m0, se_m1), np.hypot(se_v0, se_v1)
    assert abs(m0 - m1) < 4 * se_mean, (m0, m1, se_mean)
    assert abs(v0 - v1) < 4 * se_var, (v0, v1, se_var)
    assert 4 * se_mean < 0.05 * abs(m0) and 4 * se_var < 0.05 * v0
    # Sanity: forced and chaotic, not decayed or blown up (measured ≈ 3.76 and ≈ 25.7;
    # standard errors ≈ 0.013 and ≈ 0.05 per seed).
    assert 2.0 < m0 < 6.0 and 10.0 < v0 < 50.0


# -- the problem -------------------------------------------------------------------------------
def test_fields_shapes_coordinates_and_closure():
    problem = Lorenz96(K=8, J=4, T=0.1, save_every=10, spinup=1.0)
    inputs = problem.sample_inputs(3, seed=0)
    assert inputs["X0"].shape == (3, 8) and inputs["Y0"].shape == (3, 8, 4)
    outputs = problem.reference_solver().solve(inputs)
    assert outputs["X"].shape == (3, 2, 8)
    assert outputs["Y"].shape == (3, 2, 8, 4)
    assert outputs["coupling"].shape == (3, 2, 8)
    np.testing.assert_allclose(outputs["coupling"], -(1.0 * 10.0 / 10.0) * outputs["Y"].sum(-1))
    problem.check_outputs(outputs)
    coords = problem.coords()
    np.testing.assert_allclose(coords["t"], [0.05, 0.1])
    np.testing.assert_array_equal(coords["k"], np.arange(8))
    np.testing.assert_array_equal(coords["j"], np.arange(4))
    assert problem.field_dims("Y") == ("t", "k", "j")
    assert problem.resolution == problem.solver_resolution == 8
    assert problem.spatial_dims() == ("k",)
    assert problem.restrict(outputs, 8, 8)["X"] is not None
    with pytest.raises(ValueError, match="differs from K"):
        problem.restrict(outputs, 8, 4)
    with pytest.raises(ValueError, match="differs from K"):
        problem.sample_inputs(1, seed=0, resolution=4)
    with pytest.raises(ValueError, match="unknown field"):
        problem.field_dims("Z")


def test_samples_are_seeded_and_on_the_attractor():
    problem = Lorenz96(spinup=5.0)
    a = problem.sample_inputs(3, seed=7)
    np.testing.assert_array_equal(a["Y0"], problem.sample_inputs(3, seed=7)["Y0"])
    assert not np.array_equal(a["X0"], problem.sample_inputs(3, seed=8)["X0"])
    # The draw is N(0, 1) for X, N(0, 0.01) for Y; after spin-up X has the climate's spread
    # (std ≈ 3.5) and mean (≈ 2.5), and the closure term is no longer ≈ 0.
    raw = problem.replace(spinup=0.0).sample_inputs(50, seed=7)
    assert abs(raw["X0"].std() - 1.0) < 0.1 and abs(raw["Y0"].std() - 0.1) < 0.01
    spun = problem.sample_inputs(20, seed=7)
    assert spun["X0"].std() > 2.5 and 1.5 < spun["X0"].mean() < 3.5


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"K": 3}, "K"),
        ({"J": 0}, "J"),
        ({"F": float("nan")}, "F"),
        ({"h": float("inf")}, "h"),
        ({"b": 0.0}, "b"),
        ({"c": -1.0}, "c"),
        ({"dt": 0.0}, "dt"),
        ({"T": -1.0}, "T"),
        ({"T": 0.07}, "T"),
        ({"save_every": 0}, "save_every"),
        ({"spinup": -1.0}, "spinup"),
        ({"K": 2.5}, "K"),
    ],
)
def test_invalid_parameters_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=rf"\b{field}\b"):
        Lorenz96(**kwargs)


def test_round_trip_and_solver_options():
    problem = Lorenz96(K=8, J=4, F=8.0, T=0.5)
    assert pdeml.Problem.from_dict(problem.to_dict()) == problem
    assert problem.reference_solver().options() == {"dt": 0.005}
    assert problem.reference_solver(dt=0.001).describe()["name"] == "lorenz96-rk4"
    for bad in (0.0, -1e-3, float("nan"), "0.01", True):
        with pytest.raises(ValueError, match="dt"):
            problem.reference_solver(dt=bad)
    inputs = problem.sample_inputs(1, seed=0)
    with pytest.raises(FloatingPointError, match="dt"):
        problem.reference_solver(dt=0.05).solve(inputs)
    with pytest.raises(ValueError, match=r"expected shape"):
        problem.reference_solver().solve({"X0": inputs["X0"], "Y0": inputs["Y0"][:, :, :2]})


def test_presets_hold_the_published_parameter_sets():
    lorenz = pdeml.load_problem("lorenz96", size="paper")
    assert (lorenz.K, lorenz.J, lorenz.F, lorenz.h, lorenz.b, lorenz.c) == (36, 10, 10, 1, 10, 10)
    wilks = pdeml.load_problem("lorenz96-wilks", size="paper")
    assert (wilks.K, wilks.J, wilks.F, wilks.h, wilks.b, wilks.c) == (8, 32, 20, 1, 10, 10)
    for preset in ("lorenz96", "lorenz96-wilks"):
        quick = pdeml.load_problem(preset, size="quick")
        assert quick.save_interval == pytest.approx(0.05) and quick.n_save == 40


def test_generated_dataset_holds_the_solver_outputs(tmp_path):
    problem = Lorenz96(K=8, J=4, T=0.1, spinup=1.0)
    ds = generate(problem, n=3, seed=2, path=tmp_path / "l96.h5", workers=1, progress=False)
    with ds:
        inputs = problem.sample_inputs(3, seed=2)
        expected = problem.reference_solver().solve(inputs)
        np.testing.assert_allclose(ds.xr["X0"].values, inputs["X0"], rtol=1e-6)
        np.testing.assert_allclose(ds.xr["Y"].values, expected["Y"], rtol=1e-5, atol=1e-6)
        assert ds.xr["coupling"].dims == ("sample", "t", "k")
