"""The reference ladder: coarser settings interpolated onto the stored grid, time steps,
and the speed-up at equal accuracy interpolated between the settings that bracket it."""

import math

import numpy as np
import pytest

from pdeml.problems import Burgers1D, Darcy2D, NavierStokes2D
from pdeml.validation.ladder import run_ladder
from pdeml.validation.regrid import fourier_interpolate, to_stored_grid
from pdeml.validation.speedup import (
    LOWER_BOUND,
    UPPER_BOUND,
    ladder_front,
    read_speedup,
    speedup_at_equal_accuracy,
)
from pdeml.validation.suite import parse_suite


# -- onto the stored grid ------------------------------------------------------------------
def test_spectral_interpolation_is_exact_for_a_band_limited_periodic_field():
    problem = Burgers1D(resolution=64, solver_resolution=128)

    def field(n: int) -> np.ndarray:
        x = np.arange(n) / n
        return 1.0 + np.sin(2 * np.pi * x) + 0.3 * np.cos(2 * np.pi * 7 * x + 0.4)

    coarse = {"u": np.stack([field(16), 2 * field(16)])}  # modes up to 7 < 16 / 2
    fine = to_stored_grid(problem, coarse, 16)["u"]
    np.testing.assert_allclose(fine, np.stack([field(64), 2 * field(64)]), atol=1e-12)
    # The n/2 mode of an even grid is a cosine: it comes back as one, not doubled.
    x8 = np.arange(8) / 8
    nyquist = fourier_interpolate(np.cos(2 * np.pi * 4 * x8)[None], 32, axis=1)[0]
    np.testing.assert_allclose(nyquist, np.cos(2 * np.pi * 4 * np.arange(32) / 32), atol=1e-12)


def test_linear_interpolation_on_a_bounded_grid_is_second_order():
    problem = Darcy2D(resolution=65, solver_resolution=129)
    x = np.linspace(0, 1, 65)

    def field(n: int) -> np.ndarray:
        s = np.linspace(0, 1, n)
        return (np.sin(np.pi * s)[:, None] * np.exp(s)[None, :])[None]

    exact = field(65)[0]
    sizes = np.array([5, 9, 17, 33])
    errors = [
        np.abs(to_stored_grid(problem, {"u": field(n)}, n)["u"][0] - exact).max() for n in sizes
    ]
    slope = np.polyfit(np.log(1.0 / (sizes - 1)), np.log(errors), 1)[0]
    assert slope == pytest.approx(2.0, abs=0.1)
    # Finer grids are strided, the stored grid kept as it is.
    assert np.array_equal(to_stored_grid(problem, {"u": field(129)}, 129)["u"][0], exact)
    assert x.shape == exact.shape[:1]


# -- the speed-up reading ------------------------------------------------------------------
# (seconds per sample, error): each ten times more accurate costs four times as much; one
# setting (5e-3 s, 5e-2) is beaten by a cheaper, more accurate one and is not read.
LADDER = [
    {"setting": label, "seconds_per_sample": t, "relative_l2": e}
    for label, t, e in [
        ("a", 1e-3, 1e-1),
        ("b", 4e-3, 1e-2),
        ("c", 1.6e-2, 1e-3),
        ("d", 5e-3, 5e-2),
    ]
]


def test_the_speedup_is_interpolated_log_log_between_the_bracketing_settings():
    assert [p["setting"] for _, _, p in ladder_front(LADDER)] == ["a", "b", "c"]
    reading = read_speedup(math.sqrt(1e-1 * 1e-2), 1e-3, LADDER)  # halfway in log error
    assert reading.bound == "" and reading.settings == ("a", "b")
    assert reading.reference_seconds == pytest.approx(2e-3)  # halfway in log time
    assert reading.speedup == pytest.approx(2.0)
    assert speedup_at_equal_accuracy(1e-2, 1e-3, LADDER) == (pytest.approx(4.0), "")


def test_bounds_only_where_nothing_brackets_said_in_words():
    less = read_speedup(0.5, 2e-3, LADDER)
    assert (less.bound, less.speedup) == (UPPER_BOUND, pytest.approx(0.5))
    assert "less accurate than every setting" in less.words
    assert less.words.startswith("slower and less accurate than the cheapest setting, a")
    faster = read_speedup(0.5, 5e-4, LADDER)
    assert faster.words.startswith("less accurate than every setting of the ladder")
    assert less.note.startswith("≤")
    more = read_speedup(1e-4, 1e-3, LADDER)
    assert (more.bound, more.speedup) == (LOWER_BOUND, pytest.approx(16.0))
    assert "more accurate than every setting" in more.words and more.note.startswith("≥")
    assert read_speedup(math.nan, 1e-3, LADDER).speedup is None
    assert read_speedup(1e-2, 1e-3, []).speedup is None


def test_settings_are_read_on_the_surrogates_own_fields():
    ladder = [
        {"seconds_per_sample": 1.0, "relative_l2": 0.5, "errors": {"X": 0.1, "Y": 0.9}},
        {"seconds_per_sample": 2.0, "relative_l2": 0.3, "errors": {"X": 0.01, "Y": 0.59}},
    ]
    # On X alone, an error of 0.05 lies between the two settings; on the mean it would not.
    assert read_speedup(0.05, 1.0, ladder, fields=["X"]).bound == ""
    assert read_speedup(0.05, 1.0, ladder).bound == LOWER_BOUND


# -- the suite's ladder keys ---------------------------------------------------------------
def _suite(reference: dict, preset: str = "darcy", **extra) -> dict:
    problem = {"id": "p", "preset": preset, "reference": reference, **extra}
    return {"name": "s", "metrics": ["relative_l2"], "problems": [problem]}


def test_old_ladders_parse_as_before():
    suite = parse_suite(_suite({"resolutions": [29, 57], "truth_resolution": 85}))
    ladder = suite.problems[0].reference
    assert ladder.settings() == [(29, None), (57, None)] and ladder.truth() == (85, None)
    one_grid = {"resolutions": [8], "truth_resolution": 8, "samples": 2}
    assert parse_suite(_suite(one_grid, "lorenz96-wilks")).problems[0].reference.dt == ()
    steps = {"resolutions": [8], "truth_resolution": 8, "dt": [0.01, 0.002]}
    with pytest.raises(ValueError, match="truth_dt below every dt"):  # one grid: a finer step
        parse_suite(_suite(steps, "lorenz96-wilks"))
    ladder = (
        parse_suite(_suite(steps | {"truth_dt": 0.001}, "lorenz96-wilks")).problems[0].reference
    )
    assert ladder.settings() == [(8, 0.01), (8, 0.002)] and ladder.truth() == (8, 0.001)


@pytest.mark.parametrize(
    ("preset", "reference", "words"),
    [
        (
            "darcy",
            {"resolutions": [11], "truth_resolution": 57},
            [".reference.resolutions", "resolution 11 cannot be compared", "[15, 8, 5]"],
        ),
        (
            "darcy",
            {"resolutions": [15], "truth_resolution": 57, "dt": [0.1]},
            [".reference.dt", "no time step"],
        ),
        (
            "navier_stokes",
            {"resolutions": [16], "truth_resolution": 64, "dt": [0.3]},
            [".reference.dt", "0.3", "whole number"],
        ),
        (
            "burgers",
            {"resolutions": [256], "truth_resolution": 512, "dt": [0.01], "truth_dt": 0.1},
            [".reference", "truth_dt (0.1)"],
        ),
        (
            "burgers",
            {"resolutions": [256], "truth_resolution": 512, "dt": ["big"]},
            [".reference.dt", "'big'"],
        ),
        (
            "burgers",
            {"resolutions": [100], "truth_resolution": 512},
            [".reference.resolutions", "resolution 100"],
        ),
    ],
)
def test_a_setting_that_cannot_be_compared_is_one_line_naming_the_key(preset, reference, words):
    with pytest.raises(ValueError) as error:
        parse_suite(_suite(reference, preset))
    message = str(error.value)
    assert "\n" not in message and all(w in message for w in words), message


# -- running a ladder ----------------------------------------------------------------------
def test_a_burgers_ladder_with_coarser_grids_and_time_steps():
    problem = Burgers1D(resolution=32, solver_resolution=64)
    ladder = {
        "resolutions": [16, 32, 64],
        "truth_resolution": 128,
        "dt": [0.05, 0.001],
        "samples": 2,
    }
    record = run_ladder(problem, ladder, n_train=3, n_test=2, seed=0)
    points = {(p["resolution"], p["dt"]): p for p in record["ladder"]}
    assert set(points) == {(r, d) for r in (16, 32, 64) for d in (0.05, 0.001)}
    errors = [points[(r, 0.001)]["relative_l2"] for r in (16, 32, 64)]
    assert errors[0] > errors[1] > errors[2] > 0
    assert all(
        p["seconds_per_sample"] > 0 and p["seconds_per_sample_single"] > 0 for p in points.values()
    )
    assert (
        record["time_per_sample"] == points[(64, 0.001)]["seconds_per_sample"]
    )  # the data's setting
    assert record["timing"] == "batched" and record["regrid"] == "spectral (Fourier)"


def test_a_navier_stokes_truth_finer_than_its_solver_grid_starts_from_the_same_fields():
    # The inputs are a trajectory on the solver grid (16): the truth on 32 starts from their
    # Fourier interpolants; the 8-point setting is interpolated back onto the stored grid.
    problem = NavierStokes2D(T=2, t_in=1, resolution=8, solver_resolution=16, dt=0.05)
    ladder = {"resolutions": [8, 16], "truth_resolution": 32, "dt": [0.5, 0.05], "samples": 1}
    record = run_ladder(problem, ladder, n_train=0, n_test=1, seed=0)
    errors = {(p["resolution"], p["dt"]): p["relative_l2"] for p in record["ladder"]}
    assert 0 < errors[(16, 0.05)] < errors[(8, 0.05)] < 0.5
    assert errors[(16, 0.05)] < errors[(16, 0.5)]
