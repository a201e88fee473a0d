"""Numerical verification of the Burgers reference solver (Fourier collocation + ETDRK4).

Every test uses one numba signature (float64 batch, default kernel), so the kernel compiles
once per session (or never, from numba's cache).
"""

from __future__ import annotations

import numpy as np
import pytest

from pdeml.problems import Burgers1D
from pdeml.problems.burgers.solver import BurgersSpectralSolver

# Cole–Hopf data: φ = A0 + Σ_m b_m e^{−ν(2πm)²t} cos(2πmx) > 0 for all t since A0 > Σ b_m.
A0 = 2.0
MODES = {1: 1.0, 2: 0.5}
NU = 0.1
T = 0.5
N = 128


def cole_hopf(x: np.ndarray, t: float, nu: float = NU) -> np.ndarray:
    """Exact solution u = −2ν φ_x/φ of u_t + u u_x = ν u_xx, φ solving the heat equation."""
    phi = np.full_like(x, A0)
    phi_x = np.zeros_like(x)
    for m, b in MODES.items():
        amplitude = b * np.exp(-nu * (2 * np.pi * m) ** 2 * t)
        phi += amplitude * np.cos(2 * np.pi * m * x)
        phi_x -= amplitude * 2 * np.pi * m * np.sin(2 * np.pi * m * x)
    return -2.0 * nu * phi_x / phi


def relative_l2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Relative L2 error of ``a`` against ``b`` along the last axis."""
    return np.linalg.norm(a - b, axis=-1) / np.linalg.norm(b, axis=-1)


def cole_hopf_problem(n_t: int = 0) -> tuple[Burgers1D, dict[str, np.ndarray]]:
    problem = Burgers1D(nu=NU, T=T, resolution=N, solver_resolution=N, n_t=n_t)
    x = problem.coords()["x"]
    return problem, {"u0": cole_hopf(x, 0.0)[None]}


def test_cole_hopf_exact_solution_at_T_and_on_the_trajectory():
    # Space: u is analytic in a strip (φ > 0 on the real line), its Fourier coefficients fall
    # like e^{−m} and reach round-off (1e-17) by m = 40, below the 2/3-rule cut-off m = 42
    # at N = 128, so the spatial error is round-off (viscosity only smooths u later on,
    # making the tail smaller still). Time: the convergence test below
    # measures err ≈ 2e1 · dt⁴ here, about 2e-11 at dt = 1e-3. The bound 1e-9 leaves room for
    # round-off over 500 steps, while a scheme of order ≤ 3 would miss it by orders of
    # magnitude (err ≳ 1e-6 at this dt).
    problem, inputs = cole_hopf_problem(n_t=5)
    out = problem.reference_solver(dt=1e-3).solve(inputs)
    x = problem.coords()["x"]
    assert out["u"].shape == (1, N)
    assert out["u_traj"].shape == (1, 5, N)
    assert relative_l2(out["u"][0], cole_hopf(x, T)) < 1e-9
    for i, t in enumerate(problem.output_times()):
        assert relative_l2(out["u_traj"][0, i], cole_hopf(x, t)) < 1e-9
    np.testing.assert_array_equal(out["u"], out["u_traj"][:, -1])


def test_observed_order_of_convergence_in_time_is_four():
    # Errors run from ~1e-5 to ~1e-10: large against the spatial error (round-off, see
    # above) and against round-off, small enough to be in the asymptotic regime. ETDRK4 is
    # fourth order for smooth data; the local slopes measured here run 3.90 → 3.98 (the
    # leading error term still feels the next one at the largest step). ±0.3 accepts that
    # pre-asymptotic drift yet rejects order 3 (and stiff order reduction to 2 or 3 from a
    # wrong φ-coefficient).
    problem, inputs = cole_hopf_problem()
    exact = cole_hopf(problem.coords()["x"], T)
    dts = T / np.array([20, 40, 80, 160, 320])
    errors = [
        relative_l2(BurgersSpectralSolver(problem, dt=dt).solve(inputs)["u"][0], exact)
        for dt in dts
    ]
    assert max(errors) < 1e-4 and min(errors) > 1e-12
    slope = np.polyfit(np.log(dts), np.log(errors), 1)[0]
    assert abs(slope - 4.0) < 0.3, f"observed order {slope:.3f}, errors {errors}"


def test_mean_is_conserved_to_round_off():
    # The mean is the k = 0 mode, on which both the linear symbol (−νk²) and the derivative
    # in the nonlinear term vanish: the scheme keeps it bit for bit in Fourier space, so only
    # the FFTs' round-off (~1e-16 relative to the field's size) remains. The offset makes
    # the mean non-zero (the GRF is mean-zero) and adds advection.
    problem = Burgers1D(T=0.5, resolution=N, solver_resolution=N)
    u0 = problem.sample_inputs(3, seed=3)["u0"] + 0.7
    u = problem.reference_solver().solve({"u0": u0})["u"]
    scale = np.abs(u0).max()
    np.testing.assert_allclose(u.mean(axis=1), u0.mean(axis=1), rtol=0, atol=1e-14 * scale)


def integrating_factor_rk4(
    u0: np.ndarray, nu: float, t_end: float, dt: float, dealias: bool
) -> np.ndarray:
    """Plain-numpy Burgers solver: complex FFT, integrating factor e^{−νk²t}, classical RK4.

    Same semi-discretisation as the solver under test (Fourier collocation, Nyquist
    derivative zero, optional 2/3 rule), a different time integrator and FFT code path.
    """
    n = u0.shape[-1]
    m = np.fft.fftfreq(n, 1.0 / n)
    k = 2.0 * np.pi * m
    keep = 3 * np.abs(m) < n if dealias else np.ones(n, dtype=bool)
    derivative = np.where(2 * np.abs(m) == n, 0.0, k)
    symbol = -0.5j * derivative * keep

    def nonlinear(v: np.ndarray) -> np.ndarray:
        return symbol * np.fft.fft(np.fft.ifft(v * keep).real ** 2)

    steps = round(t_end / dt)
    h = t_end / steps
    half = np.exp(-nu * k**2 * h / 2)
    full = half * half
    v = np.fft.fft(u0)
    for _ in range(steps):
        a = h * nonlinear(v)
        b = h * nonlinear(half * (v + a / 2))
        c = h * nonlinear(half * v + b / 2)
        d = h * nonlinear(full * v + half * c)
        v = full * v + (full * a + 2 * half * (b + c) + d) / 6
    return np.fft.ifft(v).real


@pytest.mark.parametrize("dealias", [True, False])
def test_agrees_with_an_independent_integrating_factor_rk4(dealias):
    # T = 0.25 keeps the nonlinear term active (|u| ~ 0.3; by T = 1 viscosity has left a
    # nearly linear decay). Measured on this input: IF-RK4 at dt = 1e-4 and 2e-4 differ by
    # ~1e-11, ETDRK4 at dt = 1e-4 agrees with IF-RK4 at dt = 1e-4 to ~1e-12, so 1e-10 bounds
    # the two time-discretisation errors with margin. At the default dt the rough GRF data
    # (spectrum ~ m⁻²) reduce ETDRK4's order in the first steps and the error is ~2e-9;
    # 1e-8 checks that the default stays near that documented accuracy.
    problem = Burgers1D(T=0.25, resolution=N, solver_resolution=N)
    inputs = problem.sample_inputs(2, seed=1)
    reference = integrating_factor_rk4(inputs["u0"], problem.nu, problem.T, 1e-4, dealias)
    fine = BurgersSpectralSolver(problem, dt=1e-4, dealias=dealias).solve(inputs)["u"]
    default = BurgersSpectralSolver(problem, dealias=dealias).solve(inputs)["u"]
    assert np.all(relative_l2(fine, reference) < 1e-10)
    assert np.all(relative_l2(default, reference) < 1e-8)


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"dt": 0.0}, "dt"),
        ({"dt": -1e-3}, "dt"),
        ({"dt": float("nan")}, "dt"),
        ({"dt": float("inf")}, "dt"),
        ({"dt": "1e-3"}, "dt"),
        ({"dt": True}, "dt"),
        ({"dealias": "yes"}, "dealias"),
        ({"dealias": 1}, "dealias"),
    ],
)
def test_bad_options_raise_value_error_naming_the_option(options, named):
    problem = Burgers1D(resolution=N, solver_resolution=N)
    with pytest.raises(ValueError, match=named):
        problem.reference_solver(**options)


def test_options_and_bad_inputs():
    problem = Burgers1D(resolution=N, solver_resolution=N)
    solver = problem.reference_solver()
    assert solver.name == "burgers-spectral-etdrk4"
    assert solver.options() == {"dt": BurgersSpectralSolver.DEFAULT_DT, "dealias": True}
    u0 = problem.sample_inputs(2, seed=0)["u0"]
    u0[1, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        solver.solve({"u0": u0})
    with pytest.raises(ValueError, match="shape"):
        solver.solve({"u0": np.zeros((2, 3, N))})


def test_blow_up_from_too_large_a_step_is_reported():
    # ν = 1e-3 with inputs ten times the default size: advection dominates and five steps
    # of 0.2 are far outside ETDRK4's stability region; the solver must say so, not return
    # NaN.
    problem = Burgers1D(nu=1e-3, sigma=250.0, resolution=N, solver_resolution=N)
    inputs = problem.sample_inputs(1, seed=0)
    with pytest.raises(FloatingPointError, match="dt"):
        problem.reference_solver(dt=0.2).solve(inputs)
