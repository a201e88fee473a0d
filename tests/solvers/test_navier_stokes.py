"""Verification of the Navier–Stokes pseudo-spectral solver (CN–Heun, 2/3 rule) and problem.

All solver runs use one numba signature, so the kernel compiles once per session (or never,
from numba's cache). Grids are 16² to 64² and runs a few hundred steps: each test takes
well under a few seconds on 2 cores.
"""

from __future__ import annotations

import numpy as np
import pytest

from pdeml.problems import NavierStokes2D, Problem
from pdeml.problems.navier_stokes.solver import NavierStokesSpectralSolver
from pdeml.solvers.navier_stokes import integrate_vorticity
from pdeml.solvers.vorticity import spectral_operators


def grid(n: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.arange(n) / n
    return np.meshgrid(x, x, indexing="ij")


def wavenumbers(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``kx``, ``ky`` (rfft2 layout, broadcastable) and ``1/|k|²`` (0 at k = 0)."""
    kx = 2 * np.pi * np.fft.fftfreq(n, 1.0 / n)[:, None]
    ky = 2 * np.pi * np.arange(n // 2 + 1)[None, :]
    k2 = kx**2 + ky**2
    return kx, ky, np.divide(1.0, k2, out=np.zeros_like(k2), where=k2 > 0)


def relative_l2(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


# -- exact solutions ------------------------------------------------------------------------
def test_single_shell_decays_by_the_crank_nicolson_factor():
    # w = cos 4πx + sin 4πy lies on one shell |k|² = 16π², so ψ = w/|k|² and u·∇w =
    # J(ψ, w) = J(w, w)/|k|² = 0 although u·∇w is a sum of two non-zero products that must
    # cancel pointwise. The flow then only diffuses: each step multiplies w by the CN factor
    # g = (1 − z)/(1 + z), z = ν|k|²dt/2, so after n steps w = gⁿ w0 to round-off (the
    # 2/3 rule keeps the products exact). gⁿ differs from exp(−ν|k|²t) by the factor
    # exp(n z³/3 + O(z⁵)) ≈ 1 + ν|k|²t (ν|k|²dt)²/12: 1.6e-5 at t = 0.5 and 3.3e-5 at t = 1
    # (measured: the same to 4 digits), which we allow with 10 % to spare.
    n, nu, dt, steps = 32, 1e-2, 1e-2, 50
    x, y = grid(n)
    w0 = (np.cos(4 * np.pi * x) + np.sin(4 * np.pi * y))[None]
    out = integrate_vorticity(w0, nu=nu, dt=dt, n_snapshots=2, steps_per_snapshot=steps)
    rate = nu * (4 * np.pi) ** 2
    z = 0.5 * dt * rate
    gain = (1 - z) / (1 + z)
    for k in range(2):
        t, m = (k + 1) * steps * dt, (k + 1) * steps
        assert relative_l2(out[0, k], gain**m * w0[0]) < 1e-13
        cn_error = rate * t * (rate * dt) ** 2 / 12
        assert relative_l2(out[0, k], np.exp(-rate * t) * w0[0]) < 1.1 * cn_error


def test_forced_kolmogorov_state_is_steady():
    # f = A(sin 2π(x+y) + cos 2π(x+y)) lies on the shell |k|² = 8π²; w_s = f/(ν 8π²) has
    # u·∇w_s = 0 and νΔw_s + f = 0, a steady state of the PDE. Crank–Nicolson keeps steady
    # states of a linear problem exactly ((1 − g) w_s = step · f), so 400 steps must leave
    # w_s unchanged to round-off, with or without the noise of a non-trivial Heun stage.
    problem = NavierStokes2D(
        nu=1e-2, forcing_amplitude=0.3, resolution=32, solver_resolution=32, dt=1e-2
    )
    f = problem.forcing()
    steady = f / (problem.nu * 8 * np.pi**2)
    out = integrate_vorticity(
        steady[None], nu=problem.nu, dt=problem.dt, n_snapshots=2, steps_per_snapshot=200, forcing=f
    )
    np.testing.assert_allclose(out[0], np.stack([steady, steady]), rtol=0, atol=1e-13)


# -- order of accuracy ----------------------------------------------------------------------
def test_observed_order_in_time_is_two_on_a_nonlinear_flow():
    # Random GRF vorticity with forcing on 32²: advection, viscosity and forcing all act.
    # Errors against a run with 2048 steps (its own error ~(128/2048)² ≈ 4e-3 times the
    # smallest one below, so it does not bend the slope). The scheme is second order (CN and
    # the explicit trapezoidal rule both are; the Heun predictor is first order but enters
    # multiplied by dt). Measured local slopes: 1.994, 1.996, 1.998, 2.000, errors 1.3e-4 →
    # 5e-7. ±0.25 leaves room for pre-asymptotic drift while rejecting first order (a step
    # without the corrector) and third.
    problem = NavierStokes2D(resolution=32, solver_resolution=32, T=2, t_in=1, dt=1e-3)
    w0 = problem.sample_initial(2, seed=0)
    t_end = 0.5

    def run(steps: int) -> np.ndarray:
        return integrate_vorticity(
            w0,
            nu=problem.nu,
            dt=t_end / steps,
            n_snapshots=1,
            steps_per_snapshot=steps,
            forcing=problem.forcing(),
        )[:, 0]

    reference = run(2048)
    steps = np.array([8, 16, 32, 64, 128])
    errors = [relative_l2(run(int(s)), reference) for s in steps]
    assert max(errors) < 1e-3 and min(errors) > 1e-8
    slope = np.polyfit(np.log(t_end / steps), np.log(errors), 1)[0]
    assert abs(slope - 2.0) < 0.25, f"observed order {slope:.3f}, errors {errors}"


# -- energy and enstrophy budgets -------------------------------------------------------------
def budgets(w: np.ndarray, f: np.ndarray, nu: float) -> dict[str, np.ndarray]:
    """E = ½∫|u|², Z = ½∫w² and their budgets −ν∫w² + ∫ψf, −ν∫|∇w|² + ∫wf per snapshot.

    Grid means are exact integrals here: every field is a trigonometric polynomial without
    Nyquist modes, so the discrete Parseval identity holds.
    """
    n = w.shape[-1]
    kx, ky, inverse = wavenumbers(n)
    wh = np.fft.rfft2(w)

    def field(symbol):
        return np.fft.irfft2(symbol * wh, s=(n, n))

    psi, u, v = field(inverse), field(1j * ky * inverse), field(-1j * kx * inverse)
    wx, wy = field(1j * kx), field(1j * ky)

    def mean(a):
        return a.mean(axis=(-2, -1))

    return {
        "E": 0.5 * mean(u**2 + v**2),
        "Z": 0.5 * mean(w**2),
        "dE": -nu * mean(w**2) + mean(psi * f),
        "dZ": -nu * mean(wx**2 + wy**2) + mean(w * f),
    }


def budget_residuals(dt: float) -> dict[str, float]:
    """Largest |central difference of E, Z − budget| over 0.2 time units, relative to the
    largest |budget|."""
    nu, n = 1e-3, 32
    problem = NavierStokes2D(
        nu=nu, forcing_amplitude=1.0, resolution=n, solver_resolution=n, T=2, t_in=1, dt=1e-3
    )
    w0 = 5.0 * problem.sample_initial(1, seed=1)
    f = problem.forcing()
    steps = round(0.2 / dt)
    trajectory = integrate_vorticity(
        w0, nu=nu, dt=dt, n_snapshots=steps, steps_per_snapshot=1, forcing=f
    )[0]
    b = budgets(np.concatenate([w0, trajectory]), f, nu)
    out = {}
    for q in ("E", "Z"):
        derivative = (b[q][2:] - b[q][:-2]) / (2 * dt)
        rate = b["d" + q]
        out[q] = float(np.abs(derivative - rate[1:-1]).max() / np.abs(rate).max())
    return out


def test_energy_and_enstrophy_budgets_hold_to_second_order():
    # The 2/3-dealiased advection is the exact Galerkin truncation of u·∇w, which conserves
    # E and Z; what remains is dE/dt = −ν∫w² + ∫ψf and dZ/dt = −ν∫|∇w|² + ∫wf. Checked along
    # the computed trajectory with central differences: both the time-stepping error and the
    # difference quotient are O(dt²). Measured relative residuals at dt = 1e-3: 3.7e-7 (E),
    # 2.6e-6 (Z), each falling by 4.0 when dt halves. (For scale: the aliasing error of the
    # enstrophy flux without the 2/3 rule is ~30× the Z residual on this flow.)
    coarse, fine = budget_residuals(1e-3), budget_residuals(5e-4)
    assert coarse["E"] < 2e-6 and coarse["Z"] < 1e-5, coarse
    for q in ("E", "Z"):
        assert 3.0 < coarse[q] / fine[q] < 5.0, (coarse, fine)


# -- the two backends ------------------------------------------------------------------------
def short_run(n: int, steps: int) -> tuple[np.ndarray, dict]:
    """Initial vorticity and ``integrate_vorticity`` arguments of a 2-snapshot test run."""
    problem = NavierStokes2D(resolution=n, solver_resolution=n, T=2, t_in=1, dt=1e-3)
    w0 = 3.0 * problem.sample_initial(2, seed=4)
    kwargs = {
        "nu": problem.nu,
        "dt": 1e-3,
        "n_snapshots": 2,
        "steps_per_snapshot": steps // 2,
        "forcing": problem.forcing(),
    }
    return w0, kwargs


@pytest.mark.parametrize("n, steps", [(32, 300), (64, 200)])
def test_torch_backend_agrees_with_numba_to_round_off(n, steps):
    # Same symbols and arithmetic, different FFT libraries: the difference is FFT round-off
    # (1e-16) amplified by a few hundred nonlinear steps; measured ~5e-16 relative.
    torch = pytest.importorskip("torch")
    w0, kwargs = short_run(n, steps)
    reference = integrate_vorticity(w0, **kwargs)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # 2 shared cores: OpenMP threads only fight each other
    try:
        other = integrate_vorticity(w0, backend="torch", device="cpu", **kwargs)
    finally:
        torch.set_num_threads(threads)
    assert other.dtype == np.float64
    assert np.abs(other - reference).max() / np.abs(reference).max() < 1e-10


# -- the float32 path ------------------------------------------------------------------------
def float32_bound(n: int, steps: int) -> float:
    """Worst-case relative error of ``steps`` float32 steps on ``n²`` points, from round-off.

    Unit round-off ``u = 2^-24``. One step rounds the state through 10 FFTs of ``n²``
    points (relative error ≲ ``u log2(n²)`` each) and about 10 pointwise operations, so it
    adds at most ``c u`` with ``c = 10 log2(n²) + 10`` relative to the state. Over a short
    horizon the step is close to non-expansive (CN gain ≤ 1, and ``T`` far below the
    flow's Lyapunov time), so the errors add at most linearly: ``steps · c · u``.
    """
    return steps * (10 * np.log2(n * n) + 10) * 2.0**-24


# The first float32 numba run compiles the kernel's float32 specialisation: 17 s on a cold
# cache (2 busy cores), hence slow; the other float32 tests then find it compiled.
@pytest.mark.parametrize("backend", [pytest.param("numba", marks=pytest.mark.slow), "torch"])
def test_float32_path_agrees_with_float64_within_the_round_off_bound(backend):
    if backend == "torch":
        torch = pytest.importorskip("torch")
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # 2 shared cores: OpenMP threads only fight each other
    n, steps = 32, 300
    w0, kwargs = short_run(n, steps)
    kwargs["backend"] = backend
    try:
        reference = integrate_vorticity(w0, **kwargs)
        single = integrate_vorticity(w0, dtype="float32", **kwargs)
    finally:
        if backend == "torch":
            torch.set_num_threads(threads)
    assert reference.dtype == np.float64 and single.dtype == np.float32
    error = relative_l2(single, reference)
    # Above float64 round-off (~1e-15 here) shows the loop really ran in single precision.
    assert 1e-9 < error < float32_bound(n, steps), error


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_float32_error_does_not_grow_with_the_step_count(backend):
    # At dt = 1e-4 an increment is ~1e-4 of the state: rounded plainly, w + increment errs
    # the same way step after step (and a float32 CN gain within 2⁻²⁴ of 1 misstates the
    # decay of the slow modes), so the error grew like 0.2 · steps · u (2.6e-4 after 20 000
    # steps on 256²). Both backends add the increment with compensated summation; what
    # remains is a fixed number of roundings: w0, its forward FFT, the compensated state
    # (2u) and the inverse FFT, each within u · log2(N²) for an FFT of N² points. The bound
    # 4 · u · log2(N²) holds whatever the step count; the old update exceeded it 13- and
    # 22-fold here (2.4e-5, 4.2e-5). Measured now: 1.4e-7 (2.3 u) with either backend.
    n, u = 16, 2.0**-24
    problem = NavierStokes2D(resolution=n, solver_resolution=n, T=2, t_in=1, dt=1e-4)
    kwargs = {
        "nu": problem.nu,
        "dt": problem.dt,
        "n_snapshots": 2,
        "steps_per_snapshot": 1000,
        "forcing": problem.forcing(),
        "backend": backend,
        "device": "cpu" if backend == "torch" else None,
    }
    w0 = problem.sample_initial(2, seed=2)
    threads = None
    if backend == "torch":
        torch = pytest.importorskip("torch")
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
    try:
        reference = integrate_vorticity(w0, **kwargs)
        single = integrate_vorticity(w0, dtype="float32", **kwargs)
    finally:
        if threads is not None:
            torch.set_num_threads(threads)
    for k in range(2):
        error = relative_l2(single[:, k].astype(np.float64), reference[:, k])
        assert error < 4 * u * np.log2(n * n), (k, error)


def test_float32_option_reaches_the_solver_and_the_inputs(small_ns):
    inputs = small_ns.sample_inputs(2, seed=1, resolution=32, dtype="float32")
    assert inputs["w_in"].dtype == np.float32
    solver = small_ns.reference_solver(dtype=np.float32)  # numpy types name it too
    assert solver.options()["dtype"] == "float32"
    single = solver.solve(inputs)["w_out"]
    double = small_ns.reference_solver().solve(small_ns.sample_inputs(2, seed=1, resolution=32))
    assert single.dtype == np.float32
    steps = small_ns.T * small_ns.steps_per_unit_time
    assert relative_l2(single, double["w_out"]) < float32_bound(32, steps)


@pytest.mark.parametrize("dtype", ["float16", "half", None, 32, "torch.float32"])
def test_bad_dtype_is_refused_with_the_choices(small_ns, dtype):
    with pytest.raises(ValueError, match=r"dtype must be one of \('float64', 'float32'\)"):
        small_ns.reference_solver(dtype=dtype)
    with pytest.raises(ValueError, match="dtype"):
        integrate_vorticity(
            np.zeros((1, 8, 8)), nu=1e-3, dt=1e-3, n_snapshots=1, steps_per_snapshot=1, dtype=dtype
        )


# -- the problem and the solver class -------------------------------------------------------
@pytest.fixture
def small_ns() -> NavierStokes2D:
    """16² stored from 32², 5 snapshots (3 in, 2 out), dt = 1/200."""
    return NavierStokes2D(resolution=16, solver_resolution=32, T=5, t_in=3, dt=5e-3)


def test_sample_shapes_coordinates_and_trajectory(small_ns):
    inputs = small_ns.sample_inputs(2, seed=0)
    assert inputs["w_in"].shape == (2, 3, 16, 16) == (2, *small_ns.field_shape("w_in"))
    fine = small_ns.sample_inputs(2, seed=0, resolution=32)
    outputs = small_ns.reference_solver().solve(fine)
    assert outputs["w_out"].shape == (2, 2, 32, 32)
    coords = small_ns.coords()
    np.testing.assert_array_equal(coords["t_in"], [1, 2, 3])
    np.testing.assert_array_equal(coords["t_out"], [4, 5])
    np.testing.assert_array_equal(coords["x"], np.arange(16) / 16)
    # w_in ++ w_out is one trajectory: continuing from w_in[:, -1] equals integrating w0 to
    # T in one go, up to the round-off of one extra FFT round trip.
    whole = integrate_vorticity(
        small_ns.sample_initial(2, seed=0),
        nu=small_ns.nu,
        dt=small_ns.dt,
        n_snapshots=small_ns.T,
        steps_per_snapshot=small_ns.steps_per_unit_time,
        forcing=small_ns.forcing(32),
    )
    np.testing.assert_array_equal(fine["w_in"], whole[:, :3])
    np.testing.assert_allclose(outputs["w_out"], whole[:, 3:], rtol=0, atol=1e-13)


def test_stored_inputs_are_strides_of_the_solver_grid_trajectory(small_ns):
    fine = small_ns.sample_inputs(3, seed=7, resolution=32)
    coarse = small_ns.sample_inputs(3, seed=7)
    np.testing.assert_array_equal(coarse["w_in"], fine["w_in"][:, :, ::2, ::2])
    restricted = small_ns.restrict(fine, 32, 16)
    np.testing.assert_array_equal(restricted["w_in"], coarse["w_in"])
    # A sample depends only on (seed, index).
    piece = small_ns.sample_inputs(2, seed=7, start=1)
    np.testing.assert_array_equal(piece["w_in"], coarse["w_in"][1:])


def test_generated_dataset_has_both_time_axes(small_ns, tmp_path):
    from pdeml.data.generation import generate

    ds = generate(small_ns, n=2, seed=3, path=tmp_path / "ns.h5", workers=1, progress=False)
    view = ds.xr
    assert view["w_in"].dims == ("sample", "t_in", "x", "y")
    assert view["w_out"].dims == ("sample", "t_out", "x", "y")
    np.testing.assert_array_equal(view["t_out"].values, [4.0, 5.0])
    expected = small_ns.sample_inputs(2, seed=3)["w_in"]
    np.testing.assert_allclose(view["w_in"].values, expected, rtol=1e-6, atol=1e-6)
    ds.close()


def test_round_trip_and_defaults_follow_the_paper():
    problem = NavierStokes2D()
    assert (problem.nu, problem.T, problem.t_in, problem.forcing_amplitude) == (1e-3, 50, 10, 0.1)
    assert (problem.resolution, problem.solver_resolution, problem.dt) == (64, 256, 1e-4)
    assert problem.steps_per_unit_time == 10_000
    assert Problem.from_dict(problem.to_dict()) == problem
    coerced = NavierStokes2D.from_parameters({"T": 20.0, "t_in": 10, "nu": 1, "dt": 0.01})
    assert isinstance(coerced.T, int) and isinstance(coerced.nu, float)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"nu": 0.0}, "nu"),
        ({"nu": float("nan")}, "nu"),
        ({"T": 1}, "T"),
        ({"T": 10.5}, "T"),
        ({"t_in": 0}, "t_in"),
        ({"t_in": 50}, "t_in"),
        ({"forcing_amplitude": float("inf")}, "forcing_amplitude"),
        ({"sigma": -1.0}, "sigma"),
        ({"tau": -1.0}, "tau"),
        ({"gamma": 0.0}, "gamma"),
        ({"resolution": 48}, "resolution"),
        ({"resolution": 4, "solver_resolution": 4}, "resolution"),
        ({"dt": 3e-4}, "dt"),
        ({"dt": 2.0}, "dt"),
        ({"dt": 0.0}, "dt"),
    ],
)
def test_invalid_parameters_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        NavierStokes2D(**kwargs)


def test_solver_options_and_errors(small_ns):
    solver = small_ns.reference_solver()
    assert isinstance(solver, NavierStokesSpectralSolver)
    assert solver.describe() == {
        "name": "navier-stokes-spectral",
        "options": {"backend": "numba", "device": None, "dtype": "float64"},
    }
    with pytest.raises(ValueError, match="backend"):
        small_ns.reference_solver(backend="jax")
    with pytest.raises(ValueError, match="device"):
        small_ns.reference_solver(device="cuda")
    with pytest.raises(ValueError, match="device"):
        small_ns.reference_solver(backend="torch", device="no-such-device")
    with pytest.raises(ValueError, match="resolution"):
        small_ns.sample_inputs(1, seed=0, resolution=12)
    with pytest.raises(ValueError, match="w_in"):
        solver.solve({"w_in": np.zeros((1, 2, 16, 16))})  # t_in is 3
    # A step far too large for a strong flow blows up: an error naming dt, not NaN data.
    rough = small_ns.replace(dt=0.5, nu=1e-3)
    w_in = 1e3 * small_ns.sample_inputs(1, seed=0)["w_in"]
    with pytest.raises(FloatingPointError, match="dt"):
        rough.reference_solver().solve({"w_in": w_in})


def test_symbols_mask_follows_the_two_thirds_rule():
    ops = spectral_operators(12, nu=0.1, dt=0.01)
    kept_x = np.flatnonzero(ops.mask[:, 0])
    kept_y = np.flatnonzero(ops.mask[0])
    np.testing.assert_array_equal(kept_x, [0, 1, 2, 3, 9, 10, 11])  # |m| <= 3 < 12/3
    np.testing.assert_array_equal(kept_y, [0, 1, 2, 3])
    assert np.all(np.abs(ops.gain) <= 1.0)  # CN is unconditionally stable on diffusion
