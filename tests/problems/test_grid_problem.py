"""The declared grid problem: its parameters, grids, samplers and the user's solver.

The user's solver in these tests is ``pdeml.testing.user_heat`` (numpy only, as a user
would write it), named by path like any user module.
"""

from __future__ import annotations

import sys
import textwrap
import time
import warnings

import numpy as np
import pytest

import pdeml
from pdeml.problems import GridProblem, Problem
from pdeml.problems.presets import load_problem
from pdeml.testing import user_heat
from pdeml.validation.metrics import compute_metrics

HEAT = {
    "inputs": ["u0"],
    "outputs": ["u"],
    "dims": ["x", "y"],
    "resolution": 16,
    "solver": "pdeml.testing.user_heat:solve",
    "sampler": "grf",
    "grf_modes": 8,
}


def heat(**changes) -> GridProblem:
    return GridProblem(**{**HEAT, **changes})


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """A module ``user_solvers`` in a temporary folder on the path: the user's own file."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(code: str) -> str:
        (tmp_path / "user_solvers.py").write_text(textwrap.dedent(code))
        sys.modules.pop("user_solvers", None)
        return "user_solvers"

    yield write
    sys.modules.pop("user_solvers", None)


# -- declaring ---------------------------------------------------------------------------
def test_toml_declaration_round_trips_through_to_dict(tmp_path):
    preset = tmp_path / "heat.toml"
    preset.write_text(
        textwrap.dedent(
            """
            problem = "grid"
            [parameters]
            label = "heat2d"
            inputs = ["u0"]
            outputs = ["u"]
            dims = ["x", "y"]
            lengths = 2
            periodic = [true, false]
            [sizes.quick]
            resolution = 9
            """
        )
    )
    problem = load_problem(preset, size="quick")
    assert isinstance(problem, GridProblem)
    assert problem.lengths == (2.0, 2.0) and problem.periodic == (True, False)
    assert problem.solver_resolution == 9 and problem.title == "heat2d"
    assert Problem.from_dict(problem.to_dict()) == problem
    assert problem.field_shape("u") == (9, 9)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"resolution": None}, "missing parameter 'resolution'"),
        ({"outputs": None}, "missing parameter 'outputs'"),
        ({"lengths": [1.0, 2.0, 3.0]}, "lengths has 3 values for 2 axes"),
        ({"periodic": [True, "yes"]}, "periodic must be true/false"),
        ({"outputs": ["u0"]}, "listed both in inputs and in outputs"),
        ({"outputs": ["x"]}, "field and axis names must differ"),
        ({"inputs": ["u 0"]}, "inputs must hold names"),
        ({"time_fields": ["v"]}, "time_fields names ['v']"),
        ({"time_fields": ["u"]}, "times must list its snapshot times"),
        ({"time_fields": ["u"], "times": [1.0, 0.5]}, "times must increase"),
        ({"solver": "heat.solve"}, "solver: expected 'module:function'"),
        ({"solver_resolution": 24}, "solver_resolution"),
        ({"periodic": [True, False], "solver_resolution": 32}, "mixing periodic and bounded"),
        ({"dims": ["x", "y", "z", "w"], "lengths": 1, "periodic": True}, "at most 3"),
        ({"lengths": [1.0, -1.0]}, "lengths"),
    ],
)
def test_a_bad_declaration_gets_one_line_naming_the_key(changes, message):
    parameters = {**HEAT, **changes}
    parameters = {k: v for k, v in parameters.items() if v is not None}
    with pytest.raises(ValueError, match=None) as caught:
        GridProblem.from_parameters(parameters)
    text = str(caught.value)
    assert message in text and "\n" not in text, text


def test_functions_are_stored_by_path_and_lambdas_refused():
    problem = heat(solver=user_heat.solve, sampler=user_heat.sample)
    assert problem.solver == "pdeml.testing.user_heat:solve"
    assert problem.sampler == "pdeml.testing.user_heat:sample"
    with pytest.raises(ValueError, match="top level of a module"):
        heat(solver=lambda inputs, resolution=None: inputs)


def test_coords_follow_periodicity_and_lengths():
    problem = heat(lengths=[2.0, 1.0], periodic=[True, False], resolution=4)
    coords = problem.coords()
    np.testing.assert_allclose(coords["x"], [0.0, 0.5, 1.0, 1.5])  # right end excluded
    np.testing.assert_allclose(coords["y"], [0.0, 1 / 3, 2 / 3, 1.0])  # both ends
    assert problem.grid_includes_right_end()  # one bounded axis: surrogates pad
    timed = heat(time_fields=["u"], times=[0.1, 0.2, 0.3])
    assert timed.field_dims("u") == ("t", "x", "y")
    assert timed.field_shape("u") == (3, 16, 16)


# -- sampling ----------------------------------------------------------------------------
def test_grf_sampler_is_per_sample_and_nested_across_grids():
    problem = heat(resolution=8, solver_resolution=16)
    whole = problem.sample_inputs(4, seed=3, resolution=16)["u0"]
    parts = [problem.sample_inputs(2, seed=3, start=s, resolution=16)["u0"] for s in (0, 2)]
    np.testing.assert_array_equal(whole, np.concatenate(parts))
    coarse = problem.sample_inputs(4, seed=3, resolution=8)["u0"]
    np.testing.assert_allclose(coarse, whole[:, ::2, ::2], atol=1e-12)
    bounded = heat(periodic=False, resolution=9).sample_inputs(2, seed=0)["u0"]
    assert bounded.shape == (2, 9, 9) and np.all(np.isfinite(bounded))


def test_user_sampler_is_called_per_sample_and_checked(user_module):
    problem = heat(sampler="pdeml.testing.user_heat:sample")
    first = problem.sample_inputs(3, seed=1)
    np.testing.assert_array_equal(first["u0"][2], problem.sample_inputs(1, 1, start=2)["u0"][0])
    module = user_module(
        """
        import numpy as np
        def wrong_shape(rng, coords):
            return {"u0": np.zeros(3)}
        """
    )
    bad = heat(sampler=f"{module}:wrong_shape")
    with pytest.raises(ValueError, match=r"sample 5: 'u0': expected shape \(x, y\) = \(16, 16\)"):
        bad.sample_inputs(1, seed=0, start=5)
    with pytest.raises(ValueError, match="no input sampler declared"):
        heat(sampler="").sample_inputs(1, seed=0)


# -- the user's solver -------------------------------------------------------------------
def test_wrapped_solver_converges_at_second_order_to_the_exact_solution():
    """The wrapped solver is the user's: its error against the exact heat solution falls
    as h² (forward Euler at a fixed fraction of the stability limit is O(h²) too)."""
    problem = heat(sampler="pdeml.testing.user_heat:sample")
    solver = problem.reference_solver(kappa=0.01, t_final=0.1)
    errors = []
    # dt = h² / (20 κ) exactly (t_final / dt = 4, 16, 64 steps): the time and space
    # errors, which partly cancel, keep their ratio, so the slope is the asymptotic one.
    sizes = [20, 40, 80]
    for r in sizes:
        u0 = problem.sample_inputs(2, seed=0, resolution=r)["u0"]
        u = solver.solve({"u0": u0})["u"]
        exact = np.stack([user_heat.exact(a, 0.01, 0.1) for a in u0])
        errors.append(np.linalg.norm(u - exact) / np.linalg.norm(exact))
    order = -np.polyfit(np.log(sizes), np.log(errors), 1)[0]
    assert 1.8 < order < 2.2, (errors, order)


def test_failures_name_the_sample_and_are_recorded_per_sample(user_module):
    module = user_module(
        """
        import time
        import numpy as np
        def flaky(inputs, resolution=None):
            u0 = inputs["u0"]
            kind = int(round(abs(u0[0, 0]) * 1e6)) % 4
            if kind == 0:
                raise RuntimeError("diverged")
            if kind == 1:
                return {"u": np.full_like(u0, np.nan)}
            if kind == 2:
                return {"u": u0[:3]}
            return {"u": u0}
        def slow(inputs, resolution=None):
            time.sleep(5)
            return {"u": inputs["u0"]}
        """
    )
    problem = heat(solver=f"{module}:flaky", label="flaky")
    inputs = problem.sample_inputs(12, seed=0)
    kinds = (np.round(np.abs(inputs["u0"][:, 0, 0]) * 1e6).astype(int)) % 4
    assert set(kinds) == {0, 1, 2, 3}, kinds  # every kind of failure is exercised
    solver = problem.reference_solver()
    outputs, failures = solver.solve_recording_failures(inputs, first_index=100)
    assert sorted(failures) == [100 + i for i in range(12) if kinds[i] != 3]
    first = {0: "raised RuntimeError: diverged", 1: "NaN", 2: "expected shape"}
    for i, kind in enumerate(kinds):
        if kind == 3:
            np.testing.assert_array_equal(outputs["u"][i], inputs["u0"][i])
        else:
            assert np.isnan(outputs["u"][i]).all()
            assert first[kind] in failures[100 + i] and "\n" not in failures[100 + i]
    with pytest.raises(ValueError, match=r"^flaky: sample \d+: "):
        solver.solve(inputs)
    timed = heat(solver=f"{module}:slow", time_limit=0.2)
    begin = time.perf_counter()
    _, failures = timed.reference_solver().solve_recording_failures({"u0": inputs["u0"][:1]})
    assert time.perf_counter() - begin < 3
    assert "time limit of 0.2 s" in failures[0]


def test_problem_without_a_solver_says_how_to_get_one():
    with pytest.raises(ValueError, match="no reference solver declared"):
        heat(solver="").reference_solver()
    with pytest.raises(ValueError, match="cannot import module 'no_such_module'"):
        heat(solver="no_such_module:solve").reference_solver().solve(
            heat().sample_inputs(1, seed=0)
        )


# -- generation and data -----------------------------------------------------------------
def test_generate_leaves_failed_samples_out_and_records_them(user_module, tmp_path):
    module = user_module(
        """
        def some_fail(inputs, resolution=None):
            if inputs["u0"][0, 0] > 0:
                raise RuntimeError("unstable")
            return {"u": 2 * inputs["u0"]}
        """
    )
    problem = heat(solver=f"{module}:some_fail", label="half")
    inputs = problem.sample_inputs(8, seed=4)["u0"]
    good = inputs[:, 0, 0] <= 0
    assert 0 < good.sum() < 8
    with pytest.warns(UserWarning, match=r"half: \d of 8 samples failed and are left out"):
        data = pdeml.generate(problem, 8, seed=4, path=tmp_path / "d.h5", progress=False)
    assert len(data) == good.sum()
    np.testing.assert_allclose(data.outputs["u"], 2 * inputs[good], rtol=1e-6)
    failed = data.attrs["failed_samples"]
    assert [f["index"] for f in failed] == list(np.flatnonzero(~good))
    assert all("RuntimeError: unstable" in f["error"] for f in failed)


def test_everything_failing_writes_no_file(user_module, tmp_path):
    module = user_module(
        """
        def never(inputs, resolution=None):
            raise OSError("license server down")
        """
    )
    with pytest.raises(ValueError, match="every one of the 4 samples failed"):
        pdeml.generate(heat(solver=f"{module}:never"), 4, path=tmp_path / "d.h5", progress=False)
    assert not (tmp_path / "d.h5").exists()


@pytest.mark.slow
def test_generation_in_worker_processes_imports_the_users_module(user_module, tmp_path):
    """Workers do not re-run the caller's script: they import the solver's module by name
    (here from a folder that is only on the parent's path via the working directory)."""
    module = user_module(
        """
        def double(inputs, resolution=None):
            return {"u": 2 * inputs["u0"]}
        """
    )
    problem = heat(solver=f"{module}:double", resolution=8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        here = pdeml.generate(problem, 40, 2, tmp_path / "a.h5", workers=1, progress=False)
        pooled = pdeml.generate(
            problem, 40, 2, tmp_path / "b.h5", workers=2, chunk_size=4, progress=False
        )
    assert pooled.attrs["workers"] == 2
    np.testing.assert_array_equal(here.outputs["u"], pooled.outputs["u"])


def test_data_from_a_foreign_script_trains_grid_surrogates(tmp_path):
    """Data written by a numpy script that is not pdeml's (Helmholtz on a bounded square,
    ``u'' + k²u = f`` per axis with zero ends), declared as a grid problem, then trained on
    by FNO and PCA-GP through from_arrays; metrics read the bounded grid."""
    rng = np.random.default_rng(0)
    n, s = 24, 17
    x = np.linspace(0.0, 1.0, s)
    modes = np.arange(1, 5)
    coefficients = rng.normal(size=(n, 4, 4)) / (modes[:, None] * modes[None, :])
    sines = np.sin(np.pi * np.outer(x, modes))  # [s, 4]
    f = np.einsum("xk,nkl,yl->nxy", sines, coefficients, sines)
    k2 = 10.0
    symbol = k2 - np.pi**2 * (modes[:, None] ** 2 + modes[None, :] ** 2)
    u = np.einsum("xk,nkl,yl->nxy", sines, coefficients / symbol, sines)
    problem = GridProblem(
        inputs=["f"], outputs=["u"], dims=["x", "y"], periodic=False, resolution=s
    )
    data = pdeml.from_arrays(problem, {"f": f}, {"u": u}, path=tmp_path / "helmholtz.h5")
    train, test = data.split(4)
    for name, options in [
        ("fno", {"modes": 4, "width": 8, "epochs": 20, "batch_size": 4, "lr": 3e-3}),
        ("pca-gp", {"input_modes": 6, "output_modes": 6, "restarts": 1, "max_iter": 50}),
    ]:
        fit_names = ("epochs", "batch_size", "lr", "restarts", "max_iter")
        hyper = {k: v for k, v in options.items() if k not in fit_names}
        fit = {k: v for k, v in options.items() if k not in hyper}
        surrogate = pdeml.make_surrogate(name, problem, **hyper)
        surrogate.fit(train, **fit)
        prediction = surrogate.solve(test.inputs)["u"]
        error = np.linalg.norm(prediction - test.outputs["u"]) / np.linalg.norm(test.outputs["u"])
        # A linear map learnt from 20 samples: both do far better than predicting zero (1.0).
        assert error < 0.5, (name, error)
    metrics = compute_metrics(
        ["relative_l2", "boundary_error"], {"u": prediction}, test.outputs, problem=problem
    )
    assert np.all(np.isfinite(metrics["boundary_error"]["u"]))


def test_generate_without_a_sampler_fails_before_writing_anything(tmp_path):
    with pytest.raises(ValueError, match="no input sampler declared"):
        pdeml.generate(heat(sampler=""), 4, path=tmp_path / "d.h5", progress=False)
    assert list(tmp_path.iterdir()) == []


def test_a_table_of_parameters_drives_the_users_solver(user_module, tmp_path, monkeypatch):
    """Scalar inputs from a CSV table (row i is sample i); the grid comes from the problem."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.csv").write_text("nu,unused\n0.5,9\n1.0,9\n2.0,9\n")
    module = user_module(
        """
        import numpy as np
        def decay(inputs, resolution=None):
            x = np.arange(resolution) / resolution
            return {"u": np.exp(-inputs["nu"]) * np.sin(2 * np.pi * x)}
        """
    )
    problem = GridProblem(
        inputs=["nu"],
        outputs=["u"],
        scalar_fields=["nu"],
        resolution=8,
        solver=f"{module}:decay",
        sampler="table:params.csv",
    )
    assert problem.field_shape("nu") == ()
    np.testing.assert_array_equal(problem.sample_inputs(2, seed=0, start=1)["nu"], [1.0, 2.0])
    data = pdeml.generate(problem, 3, path=tmp_path / "d.h5", progress=False)
    x = np.arange(8) / 8
    np.testing.assert_allclose(
        data.outputs["u"], np.exp(-np.array([[0.5], [1.0], [2.0]])) * np.sin(2 * np.pi * x), 1e-6
    )
    with pytest.raises(ValueError, match=r"samples 2\.\.3 asked for, but the table has 3 rows"):
        problem.sample_inputs(2, seed=0, start=2)
    with pytest.raises(ValueError, match=r"inputs \['nu'\] are not in scalar_fields"):
        problem.replace(scalar_fields=[])
    with pytest.raises(ValueError, match="does not hold its fields on one grid"):
        pdeml.make_surrogate("fno", problem)  # grid surrogates need grid inputs
