"""Problem contract: validation, serialisation, presets, sampling and input checks."""

import numpy as np
import pytest

import pdeml
from pdeml.problems import Burgers1D, Darcy2D, Problem
from pdeml.problems.presets import builtin_presets, read_preset


@pytest.mark.parametrize(
    "problem",
    [
        Burgers1D(resolution=64, solver_resolution=256, n_t=4),
        Darcy2D(resolution=29, solver_resolution=85),
    ],
)
def test_round_trip_through_dict(problem):
    again = Problem.from_dict(problem.to_dict())
    assert again == problem
    assert type(again) is type(problem)


@pytest.mark.parametrize(
    "cls, kwargs, field",
    [
        (Burgers1D, {"nu": 0.0}, "nu"),
        (Burgers1D, {"nu": -1.0}, "nu"),
        (Burgers1D, {"T": float("inf")}, "T"),
        (Burgers1D, {"resolution": 8, "solver_resolution": 8}, "resolution"),
        (Burgers1D, {"resolution": 100}, "resolution"),
        (Burgers1D, {"n_t": -1}, "n_t"),
        (Darcy2D, {"resolution": 30}, "resolution"),
        (Darcy2D, {"resolution": 3, "solver_resolution": 5}, "resolution"),
        (Darcy2D, {"a_minus": 0.0}, "a_minus"),
        (Darcy2D, {"coefficient": "smooth"}, "coefficient"),
    ],
)
def test_invalid_parameters_name_the_field(cls, kwargs, field):
    with pytest.raises(ValueError, match=field):
        cls(**kwargs)


def test_unknown_parameter_and_problem_are_rejected():
    with pytest.raises(ValueError, match="unknown parameter"):
        Burgers1D.from_parameters({"viscosity": 0.1})
    with pytest.raises(ValueError, match="unknown problem 'heat'"):
        Problem.from_dict({"problem": "heat"})


def test_integer_valued_floats_from_toml_are_coerced():
    problem = Burgers1D.from_parameters({"nu": 1, "resolution": 64.0, "solver_resolution": 64})
    assert isinstance(problem.nu, float) and isinstance(problem.resolution, int)


@pytest.mark.parametrize("name", builtin_presets())
@pytest.mark.parametrize("size", ["quick", "paper"])
def test_every_builtin_preset_loads_at_both_sizes(name, size):
    problem = pdeml.load_problem(name, size=size)
    assert problem.name == read_preset(name).problem
    assert read_preset(name).generate_defaults(size)["n"] >= 1


def test_paper_presets_follow_the_published_recipes():
    burgers = pdeml.load_problem("burgers", size="paper")
    assert (burgers.nu, burgers.sigma, burgers.tau, burgers.gamma) == (0.1, 25.0, 5.0, 2.0)
    assert (burgers.resolution, burgers.solver_resolution) == (1024, 8192)
    darcy = pdeml.load_problem("darcy", size="paper")
    assert (darcy.a_plus, darcy.a_minus, darcy.tau, darcy.gamma) == (12.0, 3.0, 3.0, 2.0)
    assert (darcy.resolution, darcy.solver_resolution) == (85, 421)
    assert set(darcy.allowed_resolutions()) >= {421, 211, 141, 106, 85, 61, 43, 29}


def test_load_problem_overrides_and_files(tmp_path):
    assert pdeml.load_problem("darcy", resolution=43).resolution == 43
    preset = tmp_path / "mine.toml"
    preset.write_text(
        'problem = "burgers"\n[parameters]\nnu = 0.05\n[sizes.quick]\n'
        "resolution = 64\nsolver_resolution = 128\n"
    )
    assert pdeml.load_problem(preset).nu == 0.05
    bad = tmp_path / "bad.toml"
    bad.write_text("problem = \n")
    with pytest.raises(ValueError, match="not valid TOML"):
        pdeml.load_problem(bad)
    with pytest.raises(FileNotFoundError, match="no such file"):
        pdeml.load_problem(tmp_path / "missing.toml")


def test_sample_depends_only_on_seed_and_index():
    problem = Darcy2D(resolution=29, solver_resolution=85)
    whole = problem.sample_inputs(4, seed=11)["a"]
    piece = problem.sample_inputs(2, seed=11, start=2)["a"]
    np.testing.assert_array_equal(whole[2:], piece)
    assert not np.array_equal(whole, problem.sample_inputs(4, seed=12)["a"])


@pytest.mark.parametrize(
    "problem",
    [Burgers1D(resolution=64, solver_resolution=256), Darcy2D(resolution=29, solver_resolution=85)],
)
def test_stored_inputs_are_strides_of_solver_grid_inputs(problem):
    fine = problem.sample_inputs(2, seed=5, resolution=problem.solver_resolution)
    coarse = problem.sample_inputs(2, seed=5)
    restricted = problem.restrict(fine, problem.solver_resolution, problem.resolution)
    for key in problem.input_names:
        np.testing.assert_allclose(restricted[key], coarse[key], atol=1e-12)
        assert coarse[key].shape[1:] == problem.field_shape(key)


def test_darcy_piecewise_coefficient_takes_two_values():
    a = Darcy2D(resolution=29, solver_resolution=85).sample_inputs(3, seed=0)["a"]
    assert set(np.unique(a)) == {3.0, 12.0}
    smooth = Darcy2D(resolution=29, solver_resolution=85, coefficient="lognormal")
    assert np.all(smooth.sample_inputs(1, seed=0)["a"] > 0)


def test_check_inputs_reports_what_is_wrong():
    problem = Burgers1D(resolution=64, solver_resolution=64)
    good = problem.sample_inputs(2, seed=0)
    assert problem.check_inputs(good)["u0"].dtype == np.float64
    with pytest.raises(ValueError, match="missing"):
        problem.check_inputs({})
    with pytest.raises(ValueError, match="unexpected"):
        problem.check_inputs({**good, "v": good["u0"]})
    with pytest.raises(ValueError, match=r"expected shape \(n, x\)"):
        problem.check_inputs({"u0": good["u0"][0]}, resolution=64)
    bad = good["u0"].copy()
    bad[1, 3] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        problem.check_inputs({"u0": bad})
    with pytest.raises(TypeError, match="dict"):
        problem.check_inputs(good["u0"])
    with pytest.raises(TypeError, match="numeric"):
        problem.check_inputs({"u0": [["a"] * 64]})


@pytest.mark.parametrize("n, seed, field", [(0, 0, "n"), (2, -1, "seed"), (2, 1.5, "seed")])
def test_sample_inputs_rejects_bad_arguments(n, seed, field):
    with pytest.raises(ValueError, match=field):
        Burgers1D(resolution=64, solver_resolution=64).sample_inputs(n, seed)
