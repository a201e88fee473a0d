"""The Surrogate contract, checked on every registered surrogate and every problem it serves
(in the spirit of scikit-learn's ``check_estimator``).

For each surrogate: it serves the problems :data:`SERVES` lists and refuses every other one
at construction with an error naming it; built with the tiny settings of :data:`TINY`, it
fits briefly, solves with the declared shapes and finite values, saves and loads to the
same predictions, refuses unknown hyperparameters and fit options, leaves its input arrays
alone, rebuilds from ``get_params()``, and behaves as its ``capabilities`` declare.

Adding a surrogate: one row in :data:`SERVES` and one in :data:`TINY`. A setting in
``TINY`` goes to the constructor or to ``fit`` by the rule of suites (the constructor's
hyperparameter names, else the options of ``fit``), so the table does not care where a
setting lives. Combinations that take seconds (Navier–Stokes: its first reference solve
compiles) are marked ``slow``; every surrogate keeps at least one unmarked problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

import pdeml
from pdeml.data.dataset import Dataset
from pdeml.problems.base import available_problems
from pdeml.surrogates.base import Capabilities, Surrogate, available_surrogates, surrogate_class

#: Problem settings small enough for a reference solve in milliseconds (after compiling).
PROBLEMS: dict[str, dict[str, Any]] = {
    "burgers": {"resolution": 32, "solver_resolution": 64},
    "burgers_dirichlet": {"resolution": 17, "n_t": 5},
    "darcy": {"resolution": 15, "solver_resolution": 29},
    "darcy_mesh": {"mesh_size": 0.3, "max_nodes": 128, "max_triangles": 256},
    "lorenz96": {"K": 8, "J": 4, "T": 0.2, "spinup": 0.5},
    "navier_stokes": {"resolution": 16, "solver_resolution": 32, "T": 12, "dt": 1e-2},
    "poisson": {"resolution": 16, "solver_resolution": 16},
    "grid": {
        "inputs": ["u0"],
        "outputs": ["u"],
        "dims": ["x", "y"],
        "periodic": False,
        "resolution": 9,
        "solver": "pdeml.testing.user_heat:solve",
        "sampler": "grf",
        "grf_modes": 4,
    },
}
#: Samples per tiny dataset (the GP surrogates need a few more than their modes).
N_SAMPLES = 8
#: Problems each surrogate serves; it must refuse all others at construction.
SERVES: dict[str, set[str]] = {
    "fno": {"burgers", "burgers_dirichlet", "darcy", "navier_stokes", "poisson", "grid"},
    "mgno": {"burgers", "burgers_dirichlet", "darcy", "navier_stokes", "poisson", "grid"},
    "pca-gp": {"burgers", "burgers_dirichlet", "darcy", "navier_stokes", "poisson", "grid"},
    "mmgp": {"darcy_mesh"},
    "nsm": {"burgers", "darcy", "navier_stokes", "poisson"},
    "pinn": {"burgers", "burgers_dirichlet", "darcy", "navier_stokes"},
    "pig": {"burgers", "burgers_dirichlet", "darcy", "navier_stokes"},
    "l96-hybrid": {"lorenz96"},
    "unet": {"burgers", "burgers_dirichlet", "darcy", "navier_stokes", "poisson", "grid"},
}
#: Tiny settings per surrogate (hyperparameters and fit options together, see above).
TINY: dict[str, dict[str, Any]] = {
    "fno": {"modes": 3, "width": 6, "layers": 1, "projection": 8, "epochs": 2, "batch_size": 4},
    "mgno": {"channels": 4, "layers": 1, "levels": 2, "epochs": 2, "batch_size": 4},
    "pca-gp": {"input_modes": 3, "output_modes": 3, "restarts": 1, "max_iter": 5},
    "mmgp": {
        "rings": 4,
        "shape_modes": 3,
        "field_modes": 3,
        "n_samples": 8,
        "restarts": 1,
        "max_iter": 5,
    },
    "nsm": {"modes": 4, "kept": 2, "width": 4, "layers": 1, "n_train": 4, "steps": 2},
    "pinn": {
        "width": 6,
        "depth": 1,
        "n_collocation": 32,
        "n_boundary": 8,
        "n_initial": 8,
        "adam_steps": 2,
        "lbfgs_steps": 0,
    },
    "pig": {
        "n_gaussians": 4,
        "hidden": 4,
        "n_collocation": 32,
        "n_boundary": 8,
        "n_initial": 8,
        "adam_steps": 2,
        "lbfgs_steps": 0,
        "resampling": "none",
    },
    "l96-hybrid": {"closure": "polynomial", "degree": 2},
    "unet": {"width": 4, "levels": 2, "epochs": 2, "batch_size": 4},
}
#: Extra settings under which a surrogate that may checkpoint does (a hyperparameter
#: decides for PINN and PIG: only a parametric fit trains ahead of the queries).
CHECKPOINTED: dict[str, dict[str, Any]] = {
    "pinn": {"parametric": {"nu": [0.002, 0.01]}},
    "pig": {"parametric": {"nu": [0.002, 0.01]}},
}
#: Combinations that take seconds; run with the slow tests.
SLOW_PROBLEMS = {"navier_stokes"}
#: Registered by other test modules (stand-ins for one path of the runner), not surrogates
#: of the library: left out of the contract.
NOT_IN_LIBRARY = {"test-training-mean"}


def surrogates() -> list[str]:
    return [s for s in available_surrogates() if s not in NOT_IN_LIBRARY]


def served(as_one: bool = False) -> list[Any]:
    """``(surrogate, problem)`` parameters, or one tuple each (``as_one``, for fixtures)."""
    marks = {p: [pytest.mark.slow] if p in SLOW_PROBLEMS else [] for p in PROBLEMS}
    return [
        pytest.param(*([(s, p)] if as_one else [s, p]), id=f"{s}-{p}", marks=marks[p])
        for s in surrogates()
        for p in sorted(SERVES.get(s, ()))
    ]


def split(name: str, settings: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Sort tiny settings into hyperparameters and fit options (the rule of suites)."""
    kind = surrogate_class(name)
    hyper_names, fit_names = set(kind.hyperparameter_names()), set(kind.fit_option_names())
    hyper, fit = {}, {}
    for key, value in settings.items():
        if key in hyper_names:
            hyper[key] = value
        elif key in fit_names:
            fit[key] = value
        elif kind.accepts_extra_hyperparameters():
            hyper[key] = value
        else:
            raise AssertionError(
                f"TINY[{name!r}]: {key!r} is neither a hyperparameter nor a fit option"
            )
    return hyper, fit


# -- shared tiny problems and data ---------------------------------------------------------
_problems: dict[str, Any] = {}


def tiny_problem(name: str):
    if name not in _problems:
        if name in pdeml.problems.presets.builtin_presets():
            _problems[name] = pdeml.load_problem(name, size="quick", **PROBLEMS[name])
        else:  # a problem without a preset of its own (the declared grid problem)
            _problems[name] = pdeml.problems.problem_class(name)(**PROBLEMS[name])
    return _problems[name]


class HeldArrays(Dataset):
    """A Dataset whose ``inputs`` and ``outputs`` are the same arrays at every access, so
    that a ``fit`` writing into them would be seen."""

    def __init__(self, data: Dataset) -> None:
        super().__init__(data.xr, data.problem, data.attrs, data.path)
        self.held = (data.inputs, data.outputs)

    @property
    def inputs(self) -> dict[str, np.ndarray]:
        return self.held[0]

    @property
    def outputs(self) -> dict[str, np.ndarray]:
        return self.held[1]


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    folder = tmp_path_factory.mktemp("contract")
    made: dict[str, Dataset] = {}

    def get(name: str) -> HeldArrays:
        if name not in made:
            path = folder / f"{name}.h5"
            problem = tiny_problem(name)
            made[name] = pdeml.generate(
                problem, n=N_SAMPLES, seed=0, path=path, workers=1, dtype="float64", progress=False
            )
        return HeldArrays(made[name])

    yield get
    for data in made.values():
        data.close()


def build(name: str, problem_name: str, **extra: Any) -> tuple[Surrogate, dict[str, Any]]:
    hyper, fit = split(name, {**TINY[name], **extra})
    return pdeml.make_surrogate(name, tiny_problem(problem_name), **hyper), fit


def fit(surrogate: Surrogate, data: Dataset, options: Mapping[str, Any]) -> Surrogate:
    train = data if surrogate.capabilities.needs_data else None
    return surrogate.fit(train, **{"progress": False, **options})


def query(surrogate: Surrogate, data: Dataset) -> dict[str, np.ndarray]:
    """Two samples of the dataset (one for a surrogate that trains per query)."""
    n = 1 if surrogate.capabilities.trains_per_query else 2
    return {k: v[:n].copy() for k, v in data.inputs.items()}


def snapshot(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.array(v, copy=True) for k, v in arrays.items()}


def assert_unchanged(before: Mapping[str, np.ndarray], after: Mapping[str, np.ndarray]) -> None:
    assert before.keys() == after.keys()
    for k in before:
        np.testing.assert_array_equal(after[k], before[k], err_msg=f"field {k!r} was changed")


@pytest.fixture(scope="module", params=served(as_one=True))
def fitted(request, datasets):
    """A surrogate fitted on a tiny dataset, with the dataset and what fit saw."""
    name, problem_name = request.param
    surrogate, options = build(name, problem_name)
    data = datasets(problem_name)
    before = (snapshot(data.inputs), snapshot(data.outputs))
    fit(surrogate, data, options)
    return surrogate, data, before


# -- the table itself ----------------------------------------------------------------------
def test_every_surrogate_and_problem_is_in_the_tables():
    missing = [s for s in surrogates() if s not in SERVES or s not in TINY]
    assert not missing, f"add {missing} to SERVES and TINY in {__file__}"
    unknown_problems = set(available_problems()) - set(PROBLEMS)
    assert not unknown_problems, f"add tiny settings for {sorted(unknown_problems)} to PROBLEMS"


@pytest.mark.parametrize("name", surrogates())
def test_capabilities_are_declared_and_consistent(name):
    kind = surrogate_class(name)
    caps = kind.capabilities
    assert isinstance(caps, Capabilities)
    declared = [
        c for c in kind.__mro__[: kind.__mro__.index(Surrogate)] if "capabilities" in vars(c)
    ]
    assert declared, f"{kind.__name__} must declare its capabilities (a class attribute)"
    assert "cpu" in caps.devices
    # The old class attributes follow the declaration.
    assert kind.needs_data is caps.needs_data and kind.checkpoints is caps.checkpoints
    overrides = kind.solve_with_uncertainty is not Surrogate.solve_with_uncertainty
    assert overrides is caps.uncertainty, "uncertainty must say whether it has a variance"
    if caps.checkpoints:
        assert {"out_dir", "resume"} <= set(kind.fit_option_names())
    assert "progress" in kind.fit_option_names()
    both = set(kind.hyperparameter_names()) & set(kind.fit_option_names())
    assert not both, f"{sorted(both)} are both hyperparameters and fit options"


@pytest.mark.parametrize("name", surrogates())
@pytest.mark.parametrize("problem_name", sorted(PROBLEMS))
def test_construction_serves_or_refuses_clearly(name, problem_name):
    hyper, _ = split(name, TINY[name])
    problem = tiny_problem(problem_name)
    if problem_name in SERVES[name]:
        assert pdeml.make_surrogate(name, problem, **hyper).problem is problem
        return
    with pytest.raises((ValueError, TypeError)) as error:
        pdeml.make_surrogate(name, problem, **hyper)
    message = str(error.value)
    assert name in message or problem_name in message, message


@pytest.mark.parametrize(("name", "problem_name"), served())
def test_get_params_round_trip_and_unknown_hyperparameters(name, problem_name):
    surrogate, _ = build(name, problem_name)
    params = surrogate.get_params()
    assert params == surrogate.hyperparameters and params is not surrogate.hyperparameters
    again = type(surrogate)(surrogate.problem, **params)
    assert again.get_params() == params
    hyper, _ = split(name, TINY[name])
    with pytest.raises((TypeError, ValueError), match="colour"):
        pdeml.make_surrogate(name, surrogate.problem, **hyper, colour=1)


@pytest.mark.parametrize(("name", "problem_name"), served())
def test_unknown_fit_options_are_refused_before_training(name, problem_name, datasets):
    surrogate, options = build(name, problem_name)
    with pytest.raises(TypeError, match="colour"):
        fit(surrogate, datasets(problem_name), {**options, "colour": 1})
    surrogate.check_fit_options(options)  # the table's own options pass
    with pytest.raises(TypeError, match="colour"):
        surrogate.check_fit_options({"colour": 1})


def test_fit_leaves_the_training_arrays_alone(fitted):
    surrogate, data, (inputs, outputs) = fitted
    assert surrogate.fitted
    assert_unchanged(inputs, data.inputs)
    assert_unchanged(outputs, data.outputs)


def test_solve_shapes_finite_values_and_untouched_inputs(fitted):
    surrogate, data, _ = fitted
    inputs = query(surrogate, data)
    before = snapshot(inputs)
    predictions = surrogate.solve(inputs)
    assert_unchanged(before, inputs)
    n = len(next(iter(inputs.values())))
    reference = data.outputs
    assert predictions, "solve returned no field"
    for k, value in predictions.items():
        assert k in surrogate.problem.output_names
        assert value.shape == (n, *reference[k].shape[1:]), k
        assert np.all(np.isfinite(value)), k


def test_declared_capabilities_hold(fitted, tmp_path):
    surrogate, data, _ = fitted
    caps = surrogate.capabilities
    assert surrogate.device.split(":")[0] in caps.devices
    count = surrogate.parameter_count()
    assert count is None or (isinstance(count, int) and count > 0)
    assert isinstance(surrogate.history, list)
    assert all(isinstance(record, Mapping) for record in surrogate.history)
    inputs = query(surrogate, data)
    if caps.uncertainty:
        mean, var = surrogate.solve_with_uncertainty(inputs)
        for k, value in mean.items():
            assert var[k].shape == value.shape and np.all(var[k] >= 0), k
    else:
        with pytest.raises(NotImplementedError):
            surrogate.solve_with_uncertainty(inputs)


def test_save_and_load_give_the_same_predictions(fitted, tmp_path):
    surrogate, data, _ = fitted
    inputs = query(surrogate, data)
    expected = surrogate.solve(inputs)
    surrogate.save(tmp_path / "run")
    loaded = pdeml.load_surrogate(tmp_path / "run")
    assert type(loaded) is type(surrogate) and loaded.fitted
    assert loaded.get_params() == surrogate.get_params()
    again = loaded.solve(inputs)
    assert again.keys() == expected.keys()
    for k in expected:
        np.testing.assert_allclose(again[k], expected[k], rtol=1e-6, atol=1e-9, err_msg=k)


def first_served(capability: str) -> list[Any]:
    """One unmarked problem per surrogate that declares ``capability``."""
    out = []
    for name in surrogates():
        if getattr(surrogate_class(name).capabilities, capability):
            fast = sorted(SERVES[name] - SLOW_PROBLEMS)
            out.append(pytest.param(name, fast[0], id=f"{name}-{fast[0]}"))
    return out


@pytest.mark.parametrize(("name", "problem_name"), first_served("checkpoints"))
def test_checkpointing_surrogates_resume(name, problem_name, datasets, tmp_path):
    """An instance declaring checkpoints writes its run folder and resumes from it (to the
    same model: the run had finished)."""
    surrogate, options = build(name, problem_name, **CHECKPOINTED.get(name, {}))
    assert surrogate.capabilities.checkpoints, "add settings that checkpoint to CHECKPOINTED"
    data = datasets(problem_name)
    inputs = query(surrogate, data)
    if "inputs" in surrogate.fit_option_names():
        # Fitted for one input instance (a parametric PINN): that instance is the query.
        inputs = {k: v[:1] for k, v in inputs.items()}
        options = {**options, "inputs": inputs}
    fit(surrogate, data, {**options, "out_dir": tmp_path})
    first = surrogate.solve(inputs)
    assert any(tmp_path.iterdir()), "fit(out_dir=...) wrote nothing"
    resumed, _ = build(name, problem_name, **CHECKPOINTED.get(name, {}))
    fit(resumed, data, {**options, "out_dir": tmp_path, "resume": True})
    second = resumed.solve(inputs)
    for k in first:
        np.testing.assert_allclose(second[k], first[k], rtol=1e-6, atol=1e-9, err_msg=k)


@pytest.mark.parametrize(
    ("name", "problem_name"),
    [
        pytest.param(s, sorted(SERVES[s] - SLOW_PROBLEMS)[0], id=s)
        for s in surrogates()
        if not surrogate_class(s).capabilities.needs_data
    ],
)
def test_surrogates_without_data_fit_from_the_problem_alone(name, problem_name):
    surrogate, options = build(name, problem_name)
    surrogate.fit(None, **{"progress": False, **options})
    assert surrogate.fitted


def test_settings_in_the_wrong_place_are_named():
    """A fit option given to the constructor, or a hyperparameter given to fit, is refused
    with a message that says where it belongs."""
    problem = tiny_problem("darcy")
    with pytest.raises(TypeError, match="epochs"):
        pdeml.make_surrogate("fno", problem, epochs=3)
    fno = pdeml.make_surrogate("fno", problem, modes=3, width=6)
    with pytest.raises(TypeError, match=r"width.*constructor"):
        fno.check_fit_options({"width": 8})


@pytest.mark.parametrize(("name", "problem_name"), [("pca-gp", "burgers"), ("mmgp", "darcy_mesh")])
def test_runs_saved_with_settings_as_hyperparameters_still_load(
    name, problem_name, datasets, tmp_path
):
    """Runs saved when a GP's restarts, max_iter and seed were hyperparameters still load;
    those settings become the training record."""
    import json

    surrogate, options = build(name, problem_name)
    data = datasets(problem_name)
    fit(surrogate, data, {**options, "seed": 3})
    run = surrogate.save(tmp_path / "run")
    config = json.loads((run / "config.json").read_text())
    config["hyperparameters"] |= {"restarts": 1, "max_iter": 5, "seed": 3}
    del config["training"]
    (run / "config.json").write_text(json.dumps(config))
    loaded = pdeml.load_surrogate(run)
    assert loaded.training["seed"] == 3 and "seed" not in loaded.get_params()
    inputs = query(surrogate, data)
    expected, again = (
        surrogate.solve_with_uncertainty(inputs),
        loaded.solve_with_uncertainty(inputs),
    )
    for k in expected[0]:
        np.testing.assert_allclose(again[0][k], expected[0][k], rtol=1e-6, err_msg=k)
        np.testing.assert_allclose(again[1][k], expected[1][k], rtol=1e-6, err_msg=k)


def test_tiny_settings_are_small():
    """The table stays tiny: the contract test must run in about a minute on 2 cores."""
    for name, settings in TINY.items():
        for key in ("epochs", "steps", "adam_steps", "max_iter"):
            assert settings.get(key, 0) <= 5, (name, key)
